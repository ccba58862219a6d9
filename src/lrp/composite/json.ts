/**
 * The composite's JSON values: the checks the parser makes of them, and how messages quote them.
 *
 * Every error is an Error naming the source and, where there is one, the entry
 * (`composite.json: rules[2] {"layers":"#9","rule":"flat"}: selector #9 matches no layer ...`);
 * the parser and the resolver share `entryFail`, so an entry reads the same whichever step rejects it.
 */

/** Quoted values are cut here, so that a huge zbox list does not bury the message. */
const MAX_TEXT = 240;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const json = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

export function shorten(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}

export function entryFail(source: string, index: number, text: string, msg: string): never {
  throw new Error(`${source}: rules[${index}] ${text}: ${msg}`);
}
