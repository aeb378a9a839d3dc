/**
 * The HParams plugin's summaries (tensorboard/plugins/hparams/plugin_data.proto and api.proto):
 * `HParamsPluginData` carried as plugin content under the plugin name `hparams`, in three tags:
 *
 *   _hparams_/experiment          Experiment: every hyperparameter (name, type, domain) and metric
 *   _hparams_/session_start_info  SessionStartInfo: one run's hyperparameter values
 *   _hparams_/session_end_info    SessionEndInfo: its status and end time
 *
 * Field numbers used: HParamsPluginData version 1, experiment 2, session_start_info 3,
 * session_end_info 4. Experiment description 1, time_created_secs 3, hparam_infos 4, metric_infos 5,
 * name 6. HParamInfo name 1, type 4 (STRING 1, BOOL 2, FLOAT64 3), domain_discrete 5 (ListValue),
 * domain_interval 6 { min_value 1, max_value 2 }. MetricInfo name 1 (MetricName group 1, tag 2).
 * SessionStartInfo hparams 1 (map: entry key 1, value 2), group_name 4, start_time_secs 5.
 * SessionEndInfo status 1 (SUCCESS 1, FAILURE 2, RUNNING 3), end_time_secs 2.
 * google.protobuf.Value number_value 2, string_value 3, bool_value 4; ListValue values 1.
 */
import { pluginDataValue, type SummaryValue } from './event.js';
import { ProtoMessage } from './protobuf.js';

export const HPARAMS_PLUGIN = 'hparams';
export const EXPERIMENT_TAG = '_hparams_/experiment';
export const SESSION_START_TAG = '_hparams_/session_start_info';
export const SESSION_END_TAG = '_hparams_/session_end_info';

export type HParamValue = number | string | boolean;

export interface HParamInfo {
  name: string;
  type: 'float64' | 'string' | 'bool';
  /** Every value the runs take (a float64 also gets its [min, max] interval instead). */
  values: readonly HParamValue[];
}

export type SessionStatus = 'success' | 'failure' | 'running' | 'unknown';

const DATA_TYPE = { string: 1, bool: 2, float64: 3 } as const;
const STATUS = { unknown: 0, success: 1, failure: 2, running: 3 } as const;

/** google.protobuf.Value of a number, string or boolean. */
function protoValue(v: HParamValue): ProtoMessage {
  const m = new ProtoMessage();
  if (typeof v === 'number') return m.double(2, v);
  if (typeof v === 'string') return m.string(3, v);
  return m.varint(4, v);
}

function pluginData(field: 2 | 3 | 4, data: ProtoMessage): Uint8Array {
  return new ProtoMessage().message(field, data).finish(); // version 0 (the plugin's only one) is the default: not written
}

/** The experiment summary: hyperparameters with their domains, and the metric tags shown beside them. */
export function experimentValue(e: { name: string; description: string; timeCreatedSecs: number; hparams: readonly HParamInfo[]; metrics: readonly string[] }): SummaryValue {
  const m = new ProtoMessage().string(1, e.description).double(3, e.timeCreatedSecs);
  for (const h of e.hparams) {
    const info = new ProtoMessage().string(1, h.name).varint(4, DATA_TYPE[h.type]);
    const nums = h.values.filter((v): v is number => typeof v === 'number');
    if (h.type === 'float64' && nums.length > 0) {
      // an interval, so the table's columns sort and the parallel-coordinates axis is numeric
      info.message(6, new ProtoMessage().double(1, Math.min(...nums)).double(2, Math.max(...nums)));
    } else {
      const list = new ProtoMessage();
      for (const v of h.values) list.message(1, protoValue(v));
      info.message(5, list);
    }
    m.message(4, info);
  }
  for (const tag of e.metrics) m.message(5, new ProtoMessage().message(1, new ProtoMessage().string(1, '').string(2, tag)));
  m.string(6, e.name);
  return pluginDataValue(EXPERIMENT_TAG, HPARAMS_PLUGIN, pluginData(2, m));
}

/** One run's hyperparameter values (keys in the given order). */
export function sessionStartValue(s: { hparams: Readonly<Record<string, HParamValue>>; groupName: string; startTimeSecs: number }): SummaryValue {
  const m = new ProtoMessage();
  for (const [k, v] of Object.entries(s.hparams)) m.message(1, new ProtoMessage().string(1, k).message(2, protoValue(v)));
  m.string(4, s.groupName).double(5, s.startTimeSecs);
  return pluginDataValue(SESSION_START_TAG, HPARAMS_PLUGIN, pluginData(3, m));
}

/** How the run ended. */
export function sessionEndValue(s: { status: SessionStatus; endTimeSecs: number }): SummaryValue {
  const m = new ProtoMessage().varint(1, STATUS[s.status]).double(2, s.endTimeSecs);
  return pluginDataValue(SESSION_END_TAG, HPARAMS_PLUGIN, pluginData(4, m));
}
