// Readable one-line rendering of the controllers' JSON logs for the terminal
// (the processes themselves always log JSON, as in a cluster).
const COLORS = { 'deployment-controller': 36, 'service-controller': 35, 'ingress-controller': 33 } as Record<string, number>;
const LEVEL_COLORS: Record<string, number> = { error: 31, fatal: 31, warn: 33, info: 32, debug: 90, trace: 90 };
const SKIP = new Set(['level', 'time', 'msg', 'name', 'controller', 'pid', 'hostname']);

export function prettyLine(app: string, line: string, color = process.stdout.isTTY): string {
  const paint = (code: number | undefined, text: string) => (color && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const tag = paint(COLORS[app], app.replace('-controller', '').padEnd(10));
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${tag} ${line}`;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const level = String(entry.level ?? 'info');
  const fields = Object.entries(entry)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${paint(90, time)} ${tag} ${paint(LEVEL_COLORS[level], level.toUpperCase().padEnd(5))} ${entry.msg ?? ''}${fields ? ` ${paint(90, fields)}` : ''}`;
}
