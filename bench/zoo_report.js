#!/usr/bin/env node
// The model-zoo table: quantd fp32 and int8 against ONNX Runtime fp32 and
// int8 (on quantd's QDQ export) for every model and batch scripts/zoo.sh ran,
// and the models quantd refuses, with its reason.
//
//   node bench/zoo_report.js bench/out/zoo_run
//
// Reads, as scripts/zoo.sh writes them:
//   <run>/inspect/<model>.json   quantd_bench --inspect_only's refusal, if any
//   <run>/<case>/round<k>/{quantd,quantd_int8,ort,ort_int8}.json and .f32
// A .json is a result line of quantd_bench or ort_bench.js, or says why there
// is none: {"refused": why} (the runtime refuses the model), {"skipped": why}
// (e.g. ORT int8 without a QDQ export) or {"failed": why} (a crash).
//
// Per case and runtime: images/s and p50/p99 are medians over the rounds,
// peak RSS the highest round. Each ratio is the median of per-round ratios
// (their range in brackets): a round runs the four programs back to back, so
// its ratio compares measurements taken under similar load. Agreement is the cosine similarity
// of the first output per image (mean over the batch, and its minimum), from
// one round: every round runs the same input. quantd fp32 against ORT fp32
// checks the baseline both int8 figures are judged by.
'use strict';

const fs = require('fs');
const path = require('path');
const {readFloats, cosine, median, subdirectories} = require('./report.js');

const RUNTIMES = ['quantd', 'quantd_int8', 'ort', 'ort_int8'];
const LABELS = {quantd: 'quantd fp32', quantd_int8: 'quantd int8', ort: 'ORT fp32',
                ort_int8: 'ORT int8'};

function readJson(file) {
  if (!fs.existsSync(file)) return {failed: 'no result file'};
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const measured = (result) => result.images_per_s !== undefined;

// Why a runtime has no figures in a case, as a short cell.
function missingCell(result) {
  if (result.refused !== undefined) return 'refused';
  if (result.skipped !== undefined) return 'skipped';
  return 'failed';
}

// Per image of the batch (dimension 0), the cosine similarity of a's and b's
// first output: {mean, min}.
function perImageCosine(fileA, fileB, batch) {
  if (!fs.existsSync(fileA) || !fs.existsSync(fileB)) return null;
  const a = readFloats(fileA);
  const b = readFloats(fileB);
  if (a.length !== b.length || a.length % batch !== 0) return null;
  const size = a.length / batch;
  const values = [];
  for (let i = 0; i < batch; ++i) {
    values.push(cosine(a.subarray(i * size, (i + 1) * size), b.subarray(i * size, (i + 1) * size)));
  }
  return {mean: values.reduce((x, y) => x + y, 0) / batch, min: Math.min(...values)};
}

function cosineCell(similarity, batch) {
  if (!similarity) return '—';
  return batch > 1 ? `${similarity.mean.toFixed(4)} (min ${similarity.min.toFixed(4)})`
                   : similarity.mean.toFixed(4);
}

function readCase(caseDir) {
  const rounds = subdirectories(caseDir).map((dir) => {
    const round = {dir};
    for (const runtime of RUNTIMES) round[runtime] = readJson(path.join(dir, `${runtime}.json`));
    return round;
  });
  // scripts/zoo.sh names a case <index>_<model>_b<batch>.
  const [, model, batch] = /^\d+_(.+)_b(\d+)$/.exec(path.basename(caseDir));
  const summary = {model, batch: Number(batch), rounds, runtimes: {}};
  for (const runtime of RUNTIMES) {
    const results = rounds.map((round) => round[runtime]).filter(measured);
    summary.runtimes[runtime] = results.length === 0
      ? {missing: rounds.map((round) => round[runtime]).find((r) => !measured(r))}
      : {images_per_s: median(results.map((r) => r.images_per_s)),
         p50_ms: median(results.map((r) => r.p50_ms)),
         p99_ms: median(results.map((r) => r.p99_ms)),
         peak_rss_mb: Math.max(...results.map((r) => r.peak_rss_mb)),
         warmup: results[0].warmup, runs: results[0].runs, rounds: results.length};
  }
  return summary;
}

// Median over the rounds where both ran of a's images/s over b's, and with
// several rounds their range: how much the machine's load moved them.
function medianRatio(rounds, a, b) {
  const ratios = rounds.filter((round) => measured(round[a]) && measured(round[b]))
                       .map((round) => round[a].images_per_s / round[b].images_per_s);
  if (ratios.length === 0) return '—';
  const range = ratios.length > 1
    ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : '';
  return `${median(ratios).toFixed(2)}x${range}`;
}

// One round's files for the agreement: the first where both outputs exist.
function agreement(summary, a, b) {
  const round = summary.rounds.find((r) => measured(r[a]) && measured(r[b]));
  if (!round) return '—';
  return cosineCell(perImageCosine(path.join(round.dir, `${a}.f32`),
                                   path.join(round.dir, `${b}.f32`), summary.batch),
                    summary.batch);
}

function main() {
  const runDir = process.argv[2];
  if (!runDir) throw new Error('usage: zoo_report.js <run directory>');
  const cases = subdirectories(runDir)
      .filter((dir) => path.basename(dir) !== 'inspect')
      .map(readCase);

  if (cases.length === 0) console.log('No model was run.');
  else {
    printTables(cases);
    printMedians(cases);
    printCoverage(cases);
  }
  printNotes(runDir, cases);
}

function printTables(cases) {
  const cell = (s, runtime, format) => {
    const r = s.runtimes[runtime];
    return r.missing ? missingCell(r.missing) : format(r);
  };
  console.log('| model | batch | quantd fp32 img/s | quantd int8 img/s | ORT fp32 img/s | ' +
              'ORT int8 img/s | quantd int8/fp32 | quantd fp32/ORT fp32 | ' +
              'quantd int8/ORT int8 | cos(quantd int8, quantd fp32) | ' +
              'cos(ORT int8, quantd int8) | cos(quantd fp32, ORT fp32) | timed runs × rounds |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of cases) {
    const speeds = RUNTIMES.map((runtime) => cell(s, runtime, (r) => r.images_per_s.toFixed(1)));
    const q = s.runtimes.quantd;
    console.log(`| ${s.model} | ${s.batch} | ${speeds.join(' | ')} | ` +
                `${medianRatio(s.rounds, 'quantd_int8', 'quantd')} | ` +
                `${medianRatio(s.rounds, 'quantd', 'ort')} | ` +
                `${medianRatio(s.rounds, 'quantd_int8', 'ort_int8')} | ` +
                `${agreement(s, 'quantd_int8', 'quantd')} | ${agreement(s, 'ort_int8', 'quantd_int8')} | ` +
                `${agreement(s, 'quantd', 'ort')} | ` +
                `${q.missing ? '—' : `${q.runs} × ${q.rounds}`} |`);
  }

  console.log('');
  console.log('| model | batch | p50 / p99 ms: quantd fp32 | quantd int8 | ORT fp32 | ORT int8 | ' +
              'peak RSS MB: quantd fp32 | quantd int8 | ORT fp32 | ORT int8 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of cases) {
    const latencies = RUNTIMES.map(
        (runtime) => cell(s, runtime, (r) => `${r.p50_ms.toFixed(1)} / ${r.p99_ms.toFixed(1)}`));
    const rss = RUNTIMES.map((runtime) => cell(s, runtime, (r) => r.peak_rss_mb.toFixed(0)));
    console.log(`| ${s.model} | ${s.batch} | ${latencies.join(' | ')} | ${rss.join(' | ')} |`);
  }
}

// Median ratio of a over b across the models of one batch: each model's
// median over its rounds, then the median of those.
function zooMedian(cases, batch, a, b) {
  const perModel = cases.filter((s) => s.batch === batch).map((s) => {
    const ratios = s.rounds.filter((round) => measured(round[a]) && measured(round[b]))
                           .map((round) => round[a].images_per_s / round[b].images_per_s);
    return ratios.length > 0 ? median(ratios) : null;
  }).filter((ratio) => ratio !== null);
  return perModel.length > 0 ? `${median(perModel).toFixed(2)}x over ${perModel.length} models`
                             : '—';
}

function printMedians(cases) {
  const batches = [...new Set(cases.map((s) => s.batch))].sort((x, y) => x - y);
  console.log('');
  console.log('| batch | median quantd int8/fp32 | median quantd fp32/ORT fp32 | ' +
              'median quantd int8/ORT int8 |');
  console.log('|---:|---:|---:|---:|');
  for (const batch of batches) {
    console.log(`| ${batch} | ${zooMedian(cases, batch, 'quantd_int8', 'quantd')} | ` +
                `${zooMedian(cases, batch, 'quantd', 'ort')} | ` +
                `${zooMedian(cases, batch, 'quantd_int8', 'ort_int8')} |`);
  }
}

// quantd int8's coverage report per model (the Plan for one sample; the
// same in every round and batch, so the first result that has one).
function printCoverage(cases) {
  const seen = new Set();
  const rows = [];
  for (const s of cases) {
    if (seen.has(s.model)) continue;
    const result = s.rounds.map((round) => round.quantd_int8)
                           .find((r) => r.int8_mac_share !== undefined);
    if (!result) continue;
    seen.add(s.model);
    const r = result.reorders;
    const islands = result.fp32_islands_with_macs.length === 0
      ? 'none' : result.fp32_islands_with_macs.join('; ');
    rows.push(`| ${s.model} | ${(100 * result.int8_mac_share).toFixed(1)}% | ` +
              `${result.int8_nodes} / ${result.total_nodes} | ` +
              `${r.quantize} / ${r.dequantize} / ${r.requantize} / ${r.relayout} | ${islands} |`);
  }
  if (rows.length === 0) return;
  console.log('');
  console.log('quantd int8 coverage (Plan for one sample):');
  console.log('');
  console.log('| model | MACs in int8 | int8 nodes / nodes | reorders per run: quantize / ' +
              'dequantize / requantize / relayout | fp32 nodes with MACs |');
  console.log('|---|---:|---:|---:|---|');
  for (const row of rows) console.log(row);
}

// Why cells are empty (once per model, runtime and reason), then the models
// quantd refuses.
function printNotes(runDir, cases) {
  const notes = new Set();
  for (const s of cases) {
    for (const runtime of RUNTIMES) {
      const missing = s.runtimes[runtime].missing;
      if (!missing) continue;
      const why = missing.refused ?? missing.skipped ?? missing.failed;
      notes.add(`- ${s.model}, ${LABELS[runtime]}: ${missingCell(missing)}: ${why}`);
    }
    const qdqErrors = s.rounds.map((round) => round.quantd_int8.qdq_error).filter(Boolean);
    if (qdqErrors.length > 0) notes.add(`- ${s.model}: no QDQ export: ${qdqErrors[0]}`);
  }
  if (notes.size > 0) {
    console.log('');
    console.log('Not measured:');
    for (const note of notes) console.log(note);
  }

  const inspectDir = path.join(runDir, 'inspect');
  const refused = fs.existsSync(inspectDir)
    ? fs.readdirSync(inspectDir).filter((file) => file.endsWith('.json')).sort()
        .map((file) => readJson(path.join(inspectDir, file))).filter((r) => r.refused)
    : [];
  if (refused.length > 0) {
    console.log('');
    console.log('Refused by quantd (not run in either runtime):');
    for (const r of refused) console.log(`- ${r.model}: ${r.refused}`);
  }
}

main();
