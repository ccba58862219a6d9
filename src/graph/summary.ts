import type { Graph, Layer, Shape } from './ir.ts';
import { valueInfo } from './ir.ts';
import { graphKind } from './kinds.ts';

export interface SummaryRow {
  readonly name: string;
  readonly kind: Layer['kind'];
  /** Per-sample shape of the first input (a concat's other inputs differ only in channels). */
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** Trainable parameters as PyTorch counts them (src/graph/kinds.ts: declared biases, BatchNorm's scale and shift). */
  readonly params: number;
  /** Multiply-accumulates per sample; only linear layers count. */
  readonly macs: number;
}

export interface GraphSummary {
  readonly rows: readonly SummaryRow[];
  readonly totalParams: number;
  readonly totalMacs: number;
}

export function summarizeGraph(graph: Graph): GraphSummary {
  const rows = graph.layers.map((layer): SummaryRow => {
    const outputShape = valueInfo(graph, layer.output).shape;
    return {
      name: layer.name,
      kind: layer.kind,
      inputShape: valueInfo(graph, layer.inputs[0]).shape,
      outputShape,
      params: graphKind(layer).params(layer),
      macs: graphKind(layer).macs(layer, outputShape, layer.inputs.map((i) => valueInfo(graph, i).shape)),
    };
  });
  return {
    rows,
    totalParams: rows.reduce((s, r) => s + r.params, 0),
    totalMacs: rows.reduce((s, r) => s + r.macs, 0),
  };
}

/** Thousands separators independent of the host locale, so output is stable in tests and logs. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** An aligned text table, one row per layer, then the totals. */
export function formatSummary(summary: GraphSummary): string {
  const header = ['layer', 'kind', 'input', 'output', 'params', 'MACs'];
  const body = summary.rows.map((r) => [
    r.name, r.kind, formatShape(r.inputShape), formatShape(r.outputShape),
    r.params ? formatCount(r.params) : '-', r.macs ? formatCount(r.macs) : '-',
  ]);
  const total = ['total', '', '', '', formatCount(summary.totalParams), formatCount(summary.totalMacs)];
  const table = [header, ...body, total];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const numeric = (c: number): boolean => c >= 4;
  const line = (row: string[]): string =>
    row.map((cell, c) => (numeric(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line), rule, line(total)].join('\n');
}
