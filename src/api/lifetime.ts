/**
 * The public objects' lifetimes: `destroy()` (an explainer's, a model's, the Lrp's) may run while
 * one of their GPU operations is still awaited, e.g. when a page tears down. The operation must
 * then say that, not pass on the device's raw error (a copy range on a freed buffer) or return a
 * result computed on freed buffers.
 */

/**
 * Runs one step of `what`; when `destroyed()` names something that was destroyed by the time the
 * step ends (successfully or not), throws an error saying so instead.
 */
export async function untilDestroyed<T>(what: string, destroyed: () => string | null, step: () => Promise<T>): Promise<T> {
  const error = (thing: string) => new Error(`${what}: ${thing} was destroyed while it ran (destroy() came before it finished); nothing it computed is returned`);
  let result: T;
  try {
    result = await step();
  } catch (e) {
    const gone = destroyed();
    throw gone ? error(gone) : e;
  }
  const gone = destroyed();
  if (gone) throw error(gone);
  return result;
}
