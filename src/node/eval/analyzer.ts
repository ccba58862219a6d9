/** An analyzer of an evaluation: a name for records and reports, and its composite resolved for the model. */
import type { ResolvedComposite } from '../../lrp/composite.ts';

export interface AnalyzerSpec {
  /** The name records and the report use. */
  readonly name: string;
  /** The --composite value it came from. */
  readonly arg: string;
  readonly composite: ResolvedComposite;
}
