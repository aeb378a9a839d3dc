export async function writeSweepReport(_dir: string, _rows: unknown[], _o: { log: (s: string) => void }): Promise<{ markdown: string; findings: { pass: boolean }[] }> {
  throw new Error('todo');
}
