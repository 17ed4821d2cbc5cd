/**
 * The one small layer between Jikji and WebGPU: it owns the device, buffers (with a size-bucketed
 * pool for reuse), the pipeline cache, dispatch (recorded into one command encoder until
 * {@linkcode GpuRuntime.flush}), readback and GPU timing (timestamp queries when the adapter has
 * them). Models, trainers and filters call this, never raw WebGPU.
 *
 * Kernels are `kernels/<name>.wgsl`; each binding `i` of group 0 receives `bindings[i]` of a
 * dispatch, and `override` constants are set per pipeline.
 *
 * @module
 */

import { type Gpu, type GpuOptions, requestGpu } from "./device.ts";

/** A buffer binding: a whole buffer or a byte range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Storage usage for data buffers: bindable, copyable both ways. */
export const STORAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */;

const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x08 /* COPY_DST */;

/** An error in how the GPU was asked to work (shapes, sizes), raised before anything runs. */
export class GpuUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuUsageError";
  }
}

let _runtime: Promise<GpuRuntime> | undefined;

/** Returns the shared runtime (creating the device on first use). */
export function getRuntime(options: GpuOptions = {}): Promise<GpuRuntime> {
  _runtime ??= requestGpu(options).then((gpu) => new GpuRuntime(gpu)).catch((err) => {
    _runtime = undefined;
    throw err;
  });
  return _runtime;
}

/** The GPU runtime. Get it with {@linkcode getRuntime}. */
export class GpuRuntime {
  readonly gpu: Gpu;
  readonly device: GPUDevice;
  #pipelines = new Map<string, GPUComputePipeline>();
  #sources = new Map<string, string>();
  #pool = new Map<number, GPUBuffer[]>();
  #encoder?: GPUCommandEncoder;
  #pendingPasses = 0;
  #transient = new Set<GPUBuffer>(); // uniforms from uniform() not yet destroyed
  #usedUniforms = new Set<GPUBuffer>(); // transient uniforms bound since the last flush
  #spentUniforms = new WeakSet<GPUBuffer>(); // transient uniforms already destroyed
  #owned = new WeakSet<GPUBuffer>(); // live buffers made by buffer(), counted in #allocated
  #allocated = 0;
  #peak = 0;
  /** Dispatches recorded since the runtime was created. */
  dispatchCount = 0;

  constructor(gpu: Gpu) {
    this.gpu = gpu;
    this.device = gpu.device;
  }

  /** True when the adapter supports `feature` and it was enabled. */
  has(feature: "shader-f16" | "timestamp-query" | "subgroups"): boolean {
    return this.gpu.features.has(feature);
  }

  /** The largest storage binding, in bytes. */
  get maxBinding(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  /**
   * The largest binding an op may use: the device's, or `override` when smaller (tests pass a small
   * `bindingLimit` to force the split path on small tensors).
   */
  bindingLimit(override?: number): number {
    return Math.min(override ?? this.maxBinding, this.maxBinding);
  }

  /**
   * Bytes of the live storage buffers made by {@linkcode buffer} and {@linkcode upload} (their
   * allocated sizes); released buffers stay counted while they wait in the pool, until
   * {@linkcode trimPool} frees them.
   */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  /**
   * The high-water mark of {@linkcode allocatedBytes} since the runtime was made or since
   * {@linkcode resetPeak}.
   */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Restarts {@linkcode peakBytes} from the bytes allocated now. */
  resetPeak(): void {
    this.#peak = this.#allocated;
  }

  /**
   * The WGSL source of `kernels/<name>.wgsl` (cached). A line `// @include other` is replaced by
   * the source of `kernels/other.wgsl` (once per kernel), so shared helpers (number formats) live in
   * one file.
   */
  kernelSource(name: string): string {
    let src = this.#sources.get(name);
    if (src === undefined) {
      src = _expandIncludes(name, new Set());
      this.#sources.set(name, src);
    }
    return src;
  }

  /**
   * The compute pipeline of `kernels/<name>.wgsl` at `entryPoint` with `constants` for its
   * `override` declarations (cached).
   */
  kernel(
    name: string,
    entryPoint = "main",
    constants: Record<string, number> = {},
  ): GPUComputePipeline {
    return this.pipeline(`${name}.wgsl`, this.kernelSource(name), entryPoint, constants);
  }

  /** A compute pipeline from WGSL `code` (cached under `key`, entry point and constants). */
  pipeline(
    key: string,
    code: string,
    entryPoint = "main",
    constants: Record<string, number> = {},
  ): GPUComputePipeline {
    const id = `${key}#${entryPoint}#${JSON.stringify(constants)}`;
    let p = this.#pipelines.get(id);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint, constants },
        label: `${key}:${entryPoint}`,
      });
      this.#pipelines.set(id, p);
    }
    return p;
  }

  /**
   * A storage buffer of at least `bytes` bytes, reused from the pool when one is free: rounded up
   * to a power-of-two bucket from 256 B, or only to a multiple of 4 bytes where the bucket would
   * pass one binding (so a tensor that fits one binding can always be bound whole, and a larger
   * one wastes no memory) or the device's maxBufferSize. Contents are undefined; give it back with
   * {@linkcode release}.
   */
  buffer(bytes: number, label = "jikji"): GPUBuffer {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new GpuUsageError(`buffer size ${bytes} is not valid`);
    }
    const max = this.device.limits.maxBufferSize;
    let size = _bucket(Math.max(4, bytes));
    if (size > Math.min(max, this.maxBinding)) size = Math.ceil(bytes / 4) * 4;
    if (size > max) {
      throw new GpuUsageError(
        `buffer of ${bytes} bytes exceeds the device's maxBufferSize ${max}; split the tensor`,
      );
    }
    const free = this.#pool.get(size);
    if (free && free.length > 0) return free.pop()!;
    const buf = this.device.createBuffer({ size, usage: STORAGE, label });
    this.#owned.add(buf);
    this.#allocated += size;
    this.#peak = Math.max(this.#peak, this.#allocated);
    return buf;
  }

  /** Returns a buffer from {@linkcode buffer} or {@linkcode upload} to the pool. */
  release(buffer: GPUBuffer): void {
    const list = this.#pool.get(buffer.size) ?? [];
    list.push(buffer);
    this.#pool.set(buffer.size, list);
  }

  /** Frees every pooled buffer. */
  trimPool(): void {
    for (const list of this.#pool.values()) {
      for (const b of list) {
        if (this.#owned.delete(b)) this.#allocated -= b.size;
        b.destroy();
      }
    }
    this.#pool.clear();
  }

  /** A storage buffer holding `data`. */
  upload(data: ArrayBufferView, label = "jikji"): GPUBuffer {
    const buf = this.buffer(data.byteLength, label);
    this.write(buf, data);
    return buf;
  }

  /** Writes `data` into `buffer` at `offset` (queued before later dispatches are submitted). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes
    const padded = bytes.byteLength % 4 === 0 ? bytes : _pad4(bytes);
    this.flush(); // keep queue order: earlier recorded dispatches run before this write
    this.device.queue.writeBuffer(buffer, offset, padded);
  }

  /**
   * A small uniform buffer holding `data` (std140-style: caller lays it out). It is transient: it
   * is destroyed once the work of the first {@linkcode flush} after it was bound is submitted, so
   * bind it in dispatches recorded before the next flush (or pass `{ keep: true }` to own it).
   */
  uniform(data: ArrayBufferView, opts: { keep?: boolean } = {}): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const buf = this.device.createBuffer({ size, usage: UNIFORM_USAGE, label: "uniform" });
    const bytes = new Uint8Array(size);
    bytes.set(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength));
    this.device.queue.writeBuffer(buf, 0, bytes);
    if (!opts.keep) this.#transient.add(buf);
    return buf;
  }

  /** Transient uniforms not yet destroyed (a leak check for tests). */
  get liveUniforms(): number {
    return this.#transient.size;
  }

  /**
   * Records one dispatch of `pipeline` with `bindings` on group 0 (binding i = bindings[i]; leave
   * `undefined` where the entry point does not use binding i) over `workgroups`. Checks sizes
   * against the device's limits first.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    bindings: (Binding | undefined)[],
    workgroups: [number, number?, number?],
  ): void {
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = workgroups;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 0 || n > maxWg) {
        throw new GpuUsageError(`${pipeline.label}: workgroup count ${n} outside 0…${maxWg}`);
      }
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    bindings.forEach((b, i) => {
      if (b === undefined) return; // a binding this entry point does not use
      const r = b instanceof GPUBuffer ? { buffer: b } : b;
      const size = r.size ?? r.buffer.size - (r.offset ?? 0);
      const isUniform = (r.buffer.usage & 0x40) !== 0;
      if (!isUniform && size > this.maxBinding) {
        throw new GpuUsageError(
          `${pipeline.label}: binding ${i} is ${size} bytes, above the device's limit ${this.maxBinding}; split the tensor`,
        );
      }
      if (isUniform && this.#spentUniforms.has(r.buffer)) {
        throw new GpuUsageError(
          `${pipeline.label}: binding ${i} is a uniform from uniform() whose flush has passed; ` +
            `make a new one per dispatch or create it with { keep: true }`,
        );
      }
      if (isUniform && this.#transient.has(r.buffer)) this.#usedUniforms.add(r.buffer);
      entries.push({ binding: i, resource: r });
    });
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.#encoder ??= this.device.createCommandEncoder();
    const pass = this.#encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.#pendingPasses++;
    this.dispatchCount++;
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records zeroing `bytes` bytes (a multiple of 4) of `buffer` from `offset`. */
  clear(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): void {
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.clearBuffer(buffer, offset, Math.ceil(bytes / 4) * 4);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = undefined;
    this.#pendingPasses = 0;
    // submitted work keeps what it uses alive; nothing recorded later may bind these
    for (const u of this.#usedUniforms) {
      u.destroy();
      this.#transient.delete(u);
      this.#spentUniforms.add(u);
    }
    this.#usedUniforms.clear();
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Reads `bytes` bytes (default: all) of `buffer` back to the CPU. */
  async read(buffer: GPUBuffer, bytes = buffer.size, offset = 0): Promise<Uint8Array> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: 0x01 /* MAP_READ */ | 0x08, /* COPY_DST */
    });
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    await staging.mapAsync(0x0001 /* READ */);
    const out = new Uint8Array(staging.getMappedRange().slice(0, bytes));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Reads a buffer as f32 values. */
  async readF32(buffer: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    const b = await this.read(buffer, count * 4, offset);
    return new Float32Array(b.buffer, b.byteOffset, count);
  }

  /** Reads a buffer as u32 values. */
  async readU32(buffer: GPUBuffer, count: number, offset = 0): Promise<Uint32Array> {
    const b = await this.read(buffer, count * 4, offset);
    return new Uint32Array(b.buffer, b.byteOffset, count);
  }

  /**
   * Runs `record` (which records dispatches) and returns the GPU time in milliseconds between its
   * first and last pass, from timestamp queries; falls back to wall time around submit and
   * completion when the adapter has no `timestamp-query`.
   */
  async time(record: () => void): Promise<{ ms: number; source: "timestamp" | "wall" }> {
    await this.sync();
    if (!this.has("timestamp-query")) {
      const t0 = performance.now();
      record();
      await this.sync();
      return { ms: performance.now() - t0, source: "wall" };
    }
    const querySet = this.device.createQuerySet({ type: "timestamp", count: 2 });
    const resolve = this.device.createBuffer({ size: 16, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 });
    const marker = (index: "beginningOfPassWriteIndex" | "endOfPassWriteIndex", i: number) => {
      this.#encoder ??= this.device.createCommandEncoder();
      const pass = this.#encoder.beginComputePass({ timestampWrites: { querySet, [index]: i } });
      pass.end();
    };
    marker("beginningOfPassWriteIndex", 0);
    record();
    marker("endOfPassWriteIndex", 1);
    this.#encoder!.resolveQuerySet(querySet, 0, 2, resolve, 0);
    const bytes = await this.read(resolve, 16);
    const ts = new BigUint64Array(bytes.buffer, bytes.byteOffset, 2);
    querySet.destroy();
    resolve.destroy();
    return { ms: Number(ts[1] - ts[0]) / 1e6, source: "timestamp" };
  }
}

/**
 * Workgroup counts `[x, y]` covering `count` invocations of `wgSize` each, folding into y when x
 * would pass the per-dimension limit 65535; kernels index `gid.x + gid.y * nwg.x * wgSize`.
 */
export function grid1d(count: number, wgSize: number): [number, number] {
  const groups = Math.ceil(count / wgSize);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

function _expandIncludes(name: string, seen: Set<string>): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new GpuUsageError(`kernel name "${name}" is not valid`);
  seen.add(name);
  const text = Deno.readTextFileSync(new URL(`../../kernels/${name}.wgsl`, import.meta.url));
  return text.replace(/^\/\/ @include ([a-z0-9_]+)\s*$/gm, (_m, inc: string) => {
    if (seen.has(inc)) return `// (${inc} already included)`;
    return _expandIncludes(inc, seen);
  });
}

function _bucket(n: number): number {
  let size = 256;
  while (size < n) size *= 2;
  return size;
}

function _pad4(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
