/**
 * A large `.npy` batch read a slice of samples at a time, so a statistics set bigger than memory
 * streams through (`lrp patterns --input STATS.npy`). C-order float32 or float64 only: a slice of
 * samples is then one contiguous range of the file.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { openRegularFile } from './contained-path.ts';
import { parseNpyHeader, type NpyHeader } from '../io/npy.ts';

export class NpyStream {
  private fd: number;
  readonly header: NpyHeader;
  /** Samples: the first axis. */
  readonly count: number;
  /** Values per sample. */
  readonly per: number;

  constructor(readonly path: string) {
    try {
      this.fd = openRegularFile(path, '.npy file');
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m.startsWith(`${path}: `) ? m : `${path}: cannot read .npy: ${m}`);
    }
    try {
      const head = new Uint8Array(65536 + 12);
      const got = readSync(this.fd, head, 0, head.length, 0);
      this.header = parseNpyHeader(head.subarray(0, got), path);
      const { shape, dtype, fortranOrder, dataStart, itemSize } = this.header;
      if (dtype !== '<f4' && dtype !== '<f8') throw new Error(`${path}: a statistics set must be float32 or float64, not ${dtype}`);
      if (fortranOrder && shape.filter((d) => d > 1).length > 1) throw new Error(`${path}: a Fortran-order array cannot be streamed by samples; save it C-contiguous (np.ascontiguousarray)`);
      if (shape.length < 2) throw new Error(`${path}: shape [${shape.join(', ')}] has no sample axis and sample shape`);
      this.count = shape[0];
      this.per = shape.slice(1).reduce((a, b) => a * b, 1);
      const size = fstatSync(this.fd).size;
      const want = dataStart + this.count * this.per * itemSize;
      if (size !== want) throw new Error(`${path}: shape [${shape.join(', ')}] ${dtype} needs ${want} bytes, the file has ${size}`);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** The per-sample shape. */
  get sampleShape(): number[] {
    return this.header.shape.slice(1);
  }

  /** Samples [start, start + n) as float32. */
  read(start: number, n: number): Float32Array {
    if (start < 0 || n < 0 || start + n > this.count) throw new Error(`${this.path}: samples ${start}..${start + n} are outside 0..${this.count}`);
    const { itemSize, dataStart } = this.header;
    const bytes = new Uint8Array(n * this.per * itemSize);
    let done = 0;
    const at = dataStart + start * this.per * itemSize;
    while (done < bytes.length) {
      const got = readSync(this.fd, bytes, done, bytes.length - done, at + done);
      if (got === 0) throw new Error(`${this.path}: unexpected end of file`);
      done += got;
    }
    return itemSize === 4 ? new Float32Array(bytes.buffer) : Float32Array.from(new Float64Array(bytes.buffer));
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
