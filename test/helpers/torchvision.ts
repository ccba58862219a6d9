/**
 * torchvision models exported on the fly through scripts/export-torchvision.py (the one exporter:
 * random weights, BatchNorm statistics measured on random inputs, PyTorch's logits beside each
 * .onnx), for the test files that check our logits and relevance against PyTorch's. Needs
 * Debian's python3-torch and python3-torchvision; `haveTorch` says so once and the caller skips.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { npyToFloat32, parseNpy } from '../../src/io/npy.ts';

export const PYTHON = '/usr/bin/python3';
export const EXPORT_SCRIPT = fileURLToPath(new URL('../../scripts/export-torchvision.py', import.meta.url));

/** Whether PYTHON imports torch, torchvision and numpy; warns with the reason when not, naming `what` skips. */
export function haveTorch(what: string): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision, numpy'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return true;
  console.warn(`${what}: ${PYTHON} with torch, torchvision and numpy is not available `
    + `(apt-get install python3-torch python3-torchvision); skipping. ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').at(-1)}`);
  return false;
}

/** Exports `names` into `dir` at `size` pixels; `opset` undefined takes the script's default (torch's, or what a model needs). */
export function exportTorchvision(dir: string, size: number, names: readonly string[], opset?: number): void {
  const args = [EXPORT_SCRIPT, '--out', dir, '--size', String(size), ...(opset === undefined ? [] : ['--opset', String(opset)]), names.join(',')];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`exporting ${names.join(', ')}: ${r.stderr || r.error?.message}`);
}

export interface NpyArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function readNpy(path: string): NpyArray {
  const a = parseNpy(new Uint8Array(readFileSync(path)), path);
  return { shape: a.shape, data: npyToFloat32(a) };
}

/** The files the exporter writes for `name` in `dir`. */
export function exported(dir: string, name: string): { onnx: string; input: string; logits64: string; logits32: string } {
  return {
    onnx: join(dir, `${name}.onnx`),
    input: join(dir, `${name}.input.npy`),
    logits64: join(dir, `${name}.logits.npy`),
    logits32: join(dir, `${name}.logits32.npy`),
  };
}
