#!/usr/bin/env node
// ONNX Runtime (CPU, onnxruntime-node) inference, timed the way
// bench/quantd_bench.cc times quantd: one (model, batch) case per
// process, warm-up runs, then timed runs; p50/p99 by nearest rank, images/s
// over the timed runs, peak RSS of this process.
//
//   node bench/ort_bench.js --model=bench/out/models/resnet18.onnx --batch=1 \
//       --input=in.f32 --warmup=10 --runs=50 --logits_out=ort.f32 --result_out=ort.json
//
// --input is the raw float32 [batch,3,224,224] file the quantd program wrote.
// --precision only labels the result: fp32 for the original model, int8 for
// quantd's QDQ export (quantd_bench --qdq_out), which ORT runs as QLinearConv etc.
// --allow_spinning=0 makes idle intra-op threads sleep instead of spin (ORT's
// default is 1), the counterpart of OMP_WAIT_POLICY=PASSIVE for quantd.
// Peak RSS includes node/V8 itself (~40-50 MB before ONNX Runtime loads).
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseFlags(argv) {
  const flags = {threads: '2', warmup: '3', runs: '10', batch: '1', precision: 'fp32'};
  for (const arg of argv) {
    const match = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unrecognised argument '${arg}' (expected --name=value)`);
    flags[match[1]] = match[2];
  }
  for (const required of ['model', 'input']) {
    if (!flags[required]) throw new Error(`--${required} is required`);
  }
  if (flags.allow_spinning !== undefined && !['0', '1'].includes(flags.allow_spinning)) {
    throw new Error(`--allow_spinning must be 0 or 1, not '${flags.allow_spinning}'`);
  }
  return flags;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(Math.max(Math.ceil((p / 100) * sorted.length), 1), sorted.length);
  return sorted[rank - 1];
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const batch = Number(flags.batch);
  const threads = Number(flags.threads);
  const warmup = Number(flags.warmup);
  const runs = Number(flags.runs);

  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  if (flags.allow_spinning !== undefined) {
    // Flattened by the binding into the config key session.intra_op.allow_spinning.
    options.extra = {session: {intra_op: {allow_spinning: flags.allow_spinning}}};
  }
  const session = await ort.InferenceSession.create(flags.model, options);

  // Copy into a fresh ArrayBuffer: a Buffer's offset need not be 4-aligned.
  const bytes = fs.readFileSync(flags.input);
  const expected = batch * 3 * 224 * 224;
  if (bytes.length !== expected * 4) {
    throw new Error(`${flags.input}: ${bytes.length} bytes, expected ${expected} float32`);
  }
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, 224, 224])};

  const warmupStart = process.hrtime.bigint();
  let outputs;
  for (let i = 0; i < warmup; ++i) outputs = await session.run(feeds);
  const warmupMs = Number(process.hrtime.bigint() - warmupStart) / 1e6;

  const latenciesMs = [];
  for (let i = 0; i < runs; ++i) {
    const start = process.hrtime.bigint();
    outputs = await session.run(feeds);
    latenciesMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }

  const logits = outputs[session.outputNames[0]].data;
  if (flags.logits_out) {
    fs.writeFileSync(flags.logits_out, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
  }
  const totalMs = latenciesMs.reduce((a, b) => a + b, 0);
  const result = {
    runtime: 'ort',
    precision: flags.precision,
    model: path.basename(flags.model, '.onnx'),
    batch,
    threads,
    allow_spinning: flags.allow_spinning ?? 'default',
    warmup,
    runs,
    warmup_ms: Number(warmupMs.toFixed(1)),
    p50_ms: Number(percentile(latenciesMs, 50).toFixed(3)),
    p99_ms: Number(percentile(latenciesMs, 99).toFixed(3)),
    images_per_s: Number(((batch * runs * 1000) / totalMs).toFixed(2)),
    // maxRSS is ru_maxrss in KiB, the field quantd_bench reads with getrusage().
    peak_rss_mb: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
  };
  const line = JSON.stringify(result);
  console.log(line);
  if (flags.result_out) fs.writeFileSync(flags.result_out, line + '\n');
}

main().catch((error) => {
  console.error(`ort_bench: ${error.message}`);
  process.exit(1);
});
