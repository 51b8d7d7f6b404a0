#!/usr/bin/env node
// Puts the results of quantd_bench (fp32, int8) and ort_bench.js (fp32, int8
// on quantd's QDQ export) side by side.
//
//   node bench/report.js bench/out/run
//
// Reads <run>/<case>/round<k>/ as written by scripts/bench.sh: quantd.json,
// quantd_int8.json and ort_int8.json (optional), ort.json and the logits
// quantd.f32, quantd_int8.f32, ort.f32, ort_int8.f32. Per case and runtime it keeps
// the best round, and prints a Markdown table with the logits' max absolute
// difference and that difference relative to the largest |logit| (random
// weights give logits of arbitrary scale, so the absolute figure can mislead).
// Beside the ratio of best rounds it prints the median of the per-round
// ratios: each round runs both programs back to back, so a round's ratio
// compares two measurements taken under the same load.
'use strict';

const fs = require('fs');
const path = require('path');

function readFloats(file) {
  const bytes = fs.readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function compareLogits(a, b) {
  if (a.length !== b.length) return {maxAbsDiff: NaN, maxAbs: NaN};
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; ++i) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(b[i]));
  }
  return {maxAbsDiff, maxAbs};
}

// The round with the highest images/s: on a shared machine, the one least
// disturbed by other load.
function bestRound(roundDirs, file) {
  let best = null;
  for (const dir of roundDirs) {
    const result = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    if (!best || result.images_per_s > best.images_per_s) best = result;
  }
  return best;
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// Median over rounds of (images/s in fileA) / (images/s in fileB), each
// round's pair measured one right after the other.
function medianRoundRatio(roundDirs, fileA, fileB) {
  return median(roundDirs.map((dir) => {
    const a = JSON.parse(fs.readFileSync(path.join(dir, fileA), 'utf8'));
    const b = JSON.parse(fs.readFileSync(path.join(dir, fileB), 'utf8'));
    return a.images_per_s / b.images_per_s;
  }));
}

function subdirectories(dir) {
  return fs.readdirSync(dir, {withFileTypes: true})
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(dir, entry.name))
      .sort();  // bench.sh numbers cases (and rounds) in run order
}

function main() {
  const runDir = process.argv[2];
  if (!runDir) throw new Error('usage: report.js <run directory>');

  const ms = (x) => x.toFixed(1);
  console.log('| model | batch | quantd img/s | ORT img/s | quantd/ORT | median of round ratios | ' +
              'quantd p50/p99 ms | ORT p50/p99 ms | peak RSS quantd/ORT MB | max abs diff (rel.) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const caseDir of subdirectories(runDir)) {
    const rounds = subdirectories(caseDir).filter(
        (dir) => fs.existsSync(path.join(dir, 'quantd.json')) &&
                 fs.existsSync(path.join(dir, 'ort.json')));
    if (rounds.length === 0) continue;
    const q = bestRound(rounds, 'quantd.json');
    const o = bestRound(rounds, 'ort.json');
    // Same seed, same input every round: one round's logits stand for all.
    const {maxAbsDiff, maxAbs} = compareLogits(readFloats(path.join(rounds[0], 'quantd.f32')),
                                               readFloats(path.join(rounds[0], 'ort.f32')));
    console.log(`| ${q.model} | ${q.batch} | ${q.images_per_s.toFixed(1)} | ` +
                `${o.images_per_s.toFixed(1)} | ${(q.images_per_s / o.images_per_s).toFixed(2)} | ` +
                `${medianRoundRatio(rounds, 'quantd.json', 'ort.json').toFixed(2)} | ` +
                `${ms(q.p50_ms)} / ${ms(q.p99_ms)} | ${ms(o.p50_ms)} / ${ms(o.p99_ms)} | ` +
                `${q.peak_rss_mb.toFixed(0)} / ${o.peak_rss_mb.toFixed(0)} | ` +
                `${maxAbsDiff.toExponential(1)} (${(maxAbsDiff / maxAbs).toExponential(1)}) |`);
  }
  printInt8Table(runDir);
  printOrtInt8Table(runDir);
}

// Index of the largest of `count` values from `begin`.
function argmax(values, begin, count) {
  let best = begin;
  for (let i = begin + 1; i < begin + count; ++i) if (values[i] > values[best]) best = i;
  return best - begin;
}

// Share of the batch's images whose top-1 class is the same in both logits.
function top1Agreement(a, b, batch) {
  if (a.length !== b.length || a.length % batch !== 0) return NaN;
  const classes = a.length / batch;
  let agree = 0;
  for (let i = 0; i < batch; ++i) agree += argmax(a, i * classes, classes) === argmax(b, i * classes, classes);
  return agree / batch;
}

// quantd int8 against ONNX Runtime int8 running quantd's QDQ export (same
// calibration table, same scales), case by case, on the same input. With
// random weights and inputs, top-1 agreement over a batch of 1 or 32 images
// is coarse; tools/qdq_agreement.sh measures it on 10,000 real images.
function printOrtInt8Table(runDir) {
  const rows = [];
  for (const caseDir of subdirectories(runDir)) {
    const rounds = subdirectories(caseDir).filter(
        (dir) => ['quantd_int8.json', 'ort_int8.json'].every(
            (file) => fs.existsSync(path.join(dir, file))));
    if (rounds.length === 0) continue;
    const i8 = bestRound(rounds, 'quantd_int8.json');
    const o8 = bestRound(rounds, 'ort_int8.json');
    const quantdLogits = readFloats(path.join(rounds[0], 'quantd_int8.f32'));
    const ortLogits = readFloats(path.join(rounds[0], 'ort_int8.f32'));
    const {maxAbsDiff, maxAbs} = compareLogits(quantdLogits, ortLogits);
    const agreement = top1Agreement(quantdLogits, ortLogits, i8.batch);
    rows.push(`| ${i8.model} | ${i8.batch} | ${i8.images_per_s.toFixed(1)} | ` +
              `${o8.images_per_s.toFixed(1)} | ${(i8.images_per_s / o8.images_per_s).toFixed(2)} | ` +
              `${medianRoundRatio(rounds, 'quantd_int8.json', 'ort_int8.json').toFixed(2)} | ` +
              `${i8.p50_ms.toFixed(1)} / ${i8.p99_ms.toFixed(1)} | ` +
              `${o8.p50_ms.toFixed(1)} / ${o8.p99_ms.toFixed(1)} | ` +
              `${(100 * agreement).toFixed(1)}% | ` +
              `${maxAbsDiff.toExponential(1)} (${(maxAbsDiff / maxAbs).toExponential(1)}) |`);
  }
  if (rows.length === 0) return;
  console.log('');
  console.log('| model | batch | quantd int8 img/s | ORT int8 img/s | quantd int8/ORT int8 | ' +
              'median of round ratios | quantd int8 p50/p99 ms | ORT int8 p50/p99 ms | ' +
              'top-1 agreement | max abs diff (rel.) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
}

// quantd int8 against quantd fp32 and ORT fp32, case by case. Random weights
// and inputs make top-1 meaningless; the logits' cosine similarity to fp32
// shows the int8 Plan computes the same function.
function printInt8Table(runDir) {
  const rows = [];
  for (const caseDir of subdirectories(runDir)) {
    const rounds = subdirectories(caseDir).filter(
        (dir) => ['quantd.json', 'quantd_int8.json', 'ort.json'].every(
            (file) => fs.existsSync(path.join(dir, file))));
    if (rounds.length === 0) continue;
    const q = bestRound(rounds, 'quantd.json');
    const i8 = bestRound(rounds, 'quantd_int8.json');
    const o = bestRound(rounds, 'ort.json');
    const cos = cosine(readFloats(path.join(rounds[0], 'quantd_int8.f32')),
                       readFloats(path.join(rounds[0], 'quantd.f32')));
    rows.push(`| ${q.model} | ${q.batch} | ${i8.images_per_s.toFixed(1)} | ` +
              `${(i8.images_per_s / q.images_per_s).toFixed(2)} | ` +
              `${(i8.images_per_s / o.images_per_s).toFixed(2)} | ` +
              `${i8.p50_ms.toFixed(1)} / ${i8.p99_ms.toFixed(1)} | ` +
              `${i8.peak_rss_mb.toFixed(0)} | ${cos.toFixed(4)} |`);
  }
  if (rows.length === 0) return;
  console.log('');
  console.log('| model | batch | quantd int8 img/s | int8/fp32 (quantd) | quantd int8/ORT fp32 | ' +
              'int8 p50/p99 ms | int8 peak RSS MB | cosine(int8, fp32 logits) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
}

function cosine(a, b) {
  if (a.length !== b.length) return NaN;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

// bench/zoo_report.js reads the same files the same way.
module.exports = {readFloats, cosine, median, subdirectories};

if (require.main === module) main();
