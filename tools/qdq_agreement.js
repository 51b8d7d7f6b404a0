#!/usr/bin/env node
// ONNX Runtime (CPU, onnxruntime-node) on quantd's QDQ export of a
// Fashion-MNIST fixture, compared with quantd int8's logits on the same
// images (both written by bench/qdq_agreement). Prints one JSON line:
// top-1 agreement quantd int8 vs ORT int8, the logits' max abs difference,
// and each runtime's top-1 against the labels.
//
//   node tools/qdq_agreement.js --dir=/tmp/qdq/resnet [--batch=500] [--threads=2]
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseFlags(argv) {
  const flags = {batch: '500', threads: '2'};
  for (const arg of argv) {
    const match = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unrecognised argument '${arg}' (expected --name=value)`);
    flags[match[1]] = match[2];
  }
  if (!flags.dir) throw new Error('--dir is required');
  return flags;
}

function readTyped(file, Type) {
  const bytes = fs.readFileSync(file);
  return new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function argmax(values, begin, count) {
  let best = begin;
  for (let i = begin + 1; i < begin + count; ++i) if (values[i] > values[best]) best = i;
  return best - begin;
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const dir = flags.dir;
  const images = readTyped(path.join(dir, 'images.f32'), Float32Array);
  const labels = readTyped(path.join(dir, 'labels.i32'), Int32Array);
  const quantd = readTyped(path.join(dir, 'quantd_int8.f32'), Float32Array);
  const n = labels.length;
  const sampleSize = images.length / n;  // 1*28*28
  const classes = quantd.length / n;
  const session = await ort.InferenceSession.create(path.join(dir, 'model.qdq.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(flags.threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const batch = Number(flags.batch);
  const ortLogits = new Float32Array(quantd.length);
  for (let begin = 0; begin < n; begin += batch) {
    const count = Math.min(batch, n - begin);
    const data = images.slice(begin * sampleSize, (begin + count) * sampleSize);
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [count, 1, 28, 28])};
    const outputs = await session.run(feeds);
    ortLogits.set(outputs[session.outputNames[0]].data, begin * classes);
  }
  let agree = 0, quantdCorrect = 0, ortCorrect = 0, maxAbsDiff = 0, maxAbs = 0;
  for (let i = 0; i < n; ++i) {
    const q = argmax(quantd, i * classes, classes);
    const o = argmax(ortLogits, i * classes, classes);
    agree += q === o;
    quantdCorrect += q === labels[i];
    ortCorrect += o === labels[i];
  }
  for (let i = 0; i < quantd.length; ++i) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(quantd[i] - ortLogits[i]));
    maxAbs = Math.max(maxAbs, Math.abs(quantd[i]));
  }
  console.log(JSON.stringify({
    model: path.basename(dir),
    samples: n,
    top1_agreement: Number((100 * agree / n).toFixed(2)),
    quantd_int8_top1: Number((100 * quantdCorrect / n).toFixed(2)),
    ort_int8_top1: Number((100 * ortCorrect / n).toFixed(2)),
    max_abs_diff: Number(maxAbsDiff.toExponential(2)),
    max_abs_logit: Number(maxAbs.toFixed(3)),
  }));
}

main().catch((error) => {
  console.error(`qdq_agreement.js: ${error.message}`);
  process.exit(1);
});
