#!/usr/bin/env node
// ONNX Runtime (CPU, onnxruntime-node) inference, timed the way
// bench/quantd_bench.cc times quantd: one (model, batch) case per
// process, warm-up runs, then timed runs; p50/p99 by nearest rank, images/s
// over the timed runs, peak RSS of this process.
//
//   node bench/ort_bench.js --model=bench/out/models/resnet18.onnx --batch=1 \
//       --input=in.f32 --warmup=10 --runs=50 --logits_out=ort.f32 --result_out=ort.json
//
// --input is the raw float32 file the quantd program wrote: the model's input
// shape with --batch as dimension 0 and, where the model leaves the others
// dynamic, --input_shape=C,H,W (the dimensions after the batch), as for
// quantd_bench. Only the first output is written to --logits_out.
// --precision only labels the result: fp32 for the original model, int8 for
// quantd's QDQ export (quantd_bench --qdq_out), which ORT runs as QLinearConv etc.
// --allow_spinning=0 makes idle intra-op threads sleep instead of spin (ORT's
// default is 1), the counterpart of OMP_WAIT_POLICY=PASSIVE for quantd.
// Peak RSS includes node/V8 itself (~40-50 MB before ONNX Runtime loads).
//
// Exit codes, as quantd_bench's: 0 measured; 1 failed; 3 ONNX Runtime refuses
// the model (InferenceSession.create threw): the reason goes to stderr and, as
// {"refused": ...}, to --result_out.
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

const EXIT_REFUSED = 3;

// The input shape for `batch` images from the model's first input: dimension
// 0 is the batch, other dynamic dimensions (symbolic names or -1) come from
// `sampleShape` (--input_shape).
function resolveInputShape(metadata, batch, sampleShape) {
  const modelShape = metadata.isTensor ? metadata.shape : [];
  const described = `input '${metadata.name}' [${modelShape.join(',')}]`;
  if (modelShape.length === 0) throw new Error(`${described} has no batch dimension`);
  const fixed = (dim) => typeof dim === 'number' && dim > 0;
  if (fixed(modelShape[0]) && modelShape[0] !== batch) {
    throw new Error(`${described} fixes the batch at ${modelShape[0]}, not --batch=${batch}`);
  }
  if (sampleShape && sampleShape.length !== modelShape.length - 1) {
    throw new Error(`${described}: --input_shape gives ${sampleShape.length} dimensions, ` +
                    `the model has ${modelShape.length - 1} after the batch`);
  }
  const shape = [batch];
  for (let i = 1; i < modelShape.length; ++i) {
    const given = sampleShape ? sampleShape[i - 1] : undefined;
    if (fixed(modelShape[i]) && given !== undefined && given !== modelShape[i]) {
      throw new Error(`${described}: --input_shape gives ${given} for dimension ${i}`);
    }
    if (!fixed(modelShape[i]) && given === undefined) {
      throw new Error(`${described}: dimension ${i} is dynamic; give every dimension after ` +
                      'the batch with --input_shape (e.g. --input_shape=3,224,224)');
    }
    shape.push(fixed(modelShape[i]) ? modelShape[i] : given);
  }
  return shape;
}

function parseSampleShape(text) {
  if (text === undefined) return undefined;
  return text.split(',').map((dim) => {
    const value = Number(dim);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`--input_shape: '${dim}' is not a positive integer`);
    }
    return value;
  });
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(Math.max(Math.ceil((p / 100) * sorted.length), 1), sorted.length);
  return sorted[rank - 1];
}

async function run(flags) {
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
  const sampleShape = parseSampleShape(flags.input_shape);
  let session;
  try {
    session = await ort.InferenceSession.create(flags.model, options);
  } catch (error) {
    throw Object.assign(new Error(String(error.message).replace(/\s+/g, ' ')), {refused: true});
  }
  const inputShape = resolveInputShape(session.inputMetadata[0], batch, sampleShape);

  // Copy into a fresh ArrayBuffer: a Buffer's offset need not be 4-aligned.
  const bytes = fs.readFileSync(flags.input);
  const expected = inputShape.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected * 4) {
    throw new Error(`${flags.input}: ${bytes.length} bytes, expected ${expected} float32 ` +
                    `([${inputShape.join(',')}])`);
  }
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, inputShape)};

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

  const firstOutput = outputs[session.outputNames[0]];
  const logits = firstOutput.data;
  if (flags.logits_out) {
    fs.writeFileSync(flags.logits_out, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
  }
  const totalMs = latenciesMs.reduce((a, b) => a + b, 0);
  const result = {
    runtime: 'ort',
    precision: flags.precision,
    model: path.basename(flags.model, '.onnx'),
    batch,
    input_shape: inputShape,
    output_shape: firstOutput.dims,
    outputs: session.outputNames.length,
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
  writeResult(flags, result);
}

function writeResult(flags, result) {
  const line = JSON.stringify(result);
  console.log(line);
  if (flags.result_out) fs.writeFileSync(flags.result_out, line + '\n');
}

function main() {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (error) {
    console.error(`ort_bench: ${error.message}`);
    process.exit(1);
  }
  run(flags).catch((error) => {
    if (!error.refused) {
      console.error(`ort_bench: ${error.message}`);
      process.exit(1);
    }
    const model = path.basename(flags.model, '.onnx');
    console.error(`ort_bench: ONNX Runtime refuses ${model}: ${error.message}`);
    writeResult(flags, {runtime: 'ort', precision: flags.precision, model,
                        batch: Number(flags.batch), refused: error.message});
    process.exit(EXIT_REFUSED);
  });
}

main();
