/**
 * Whether stderr is a terminal. bin/lrp.js runs the CLI in a child whose stderr is a pipe (to
 * filter Dawn's native warnings) and says in LRP_STDERR_TTY that the real stderr is a terminal,
 * so progress bars still redraw in place.
 */
export function stderrIsTty(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (stream !== process.stderr) return Boolean(stream.isTTY);
  return Boolean(stream.isTTY) || process.env.LRP_STDERR_TTY === '1';
}
