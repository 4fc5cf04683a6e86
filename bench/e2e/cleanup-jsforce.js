// The cleanup an admin writes with jsforce instead of running bulkwarden: list every Bulk API 2.0
// query job (jsforce has no job-list method, so page /jobs/query by hand following
// nextRecordsUrl), keep the ones InProgress or UploadComplete for more than 30 minutes, and abort
// them with a bounded Promise.all, in one of two forms:
//   chunks (default): Promise.all over batches of CONCURRENCY, one batch after the other: the
//                     form such scripts usually take; each batch waits for its slowest request.
//   pool:             CONCURRENCY workers draining one queue under one Promise.all: the fastest
//                     bounded form.
//
//   node cleanup-jsforce.js INSTANCE_URL TOKEN CONCURRENCY [chunks|pool]
//
// Prints one JSON line: pages, jobs, matched, applied, alreadyTerminal, failed, listMs, actMs, passMs.
'use strict';
const jsforce = require('jsforce');

const [instanceUrl, accessToken, concurrencyArg, modeArg] = process.argv.slice(2);
const mode = modeArg || 'chunks';
const concurrency = Number(concurrencyArg || 25);
const version = '62.0';
const base = `/services/data/v${version}/jobs/query`;
const maxAgeMs = 30 * 60 * 1000;

async function main() {
  const conn = new jsforce.Connection({ instanceUrl, accessToken, version });
  const started = Date.now();

  // List every page.
  const records = [];
  let pages = 0;
  let res = await conn.request({ method: 'GET', url: `${base}?jobType=V2Query` });
  for (;;) {
    pages += 1;
    records.push(...res.records);
    if (res.done || !res.nextRecordsUrl) break;
    res = await conn.request({ method: 'GET', url: res.nextRecordsUrl });
  }
  const listed = Date.now();

  const now = Date.now();
  const stuck = records.filter(
    (j) =>
      (j.state === 'InProgress' || j.state === 'UploadComplete') &&
      now - Date.parse(j.createdDate) > maxAgeMs,
  );

  // Abort, at most `concurrency` in flight.
  let applied = 0;
  let alreadyTerminal = 0;
  let failed = 0;
  async function abortOne(job) {
    try {
      await conn.request({
        method: 'PATCH',
        url: `${base}/${job.id}`,
        body: JSON.stringify({ state: 'Aborted' }),
        headers: { 'Content-Type': 'application/json' },
      });
      applied += 1;
    } catch (e) {
      if (e.errorCode === 'INVALIDJOBSTATE') alreadyTerminal += 1;
      else failed += 1;
    }
  }
  if (mode === 'pool') {
    let next = 0;
    const worker = async () => {
      while (next < stuck.length) await abortOne(stuck[next++]);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } else {
    for (let i = 0; i < stuck.length; i += concurrency) {
      await Promise.all(stuck.slice(i, i + concurrency).map(abortOne));
    }
  }
  const done = Date.now();

  console.log(
    JSON.stringify({
      mode,
      pages,
      jobs: records.length,
      matched: stuck.length,
      applied,
      alreadyTerminal,
      failed,
      listMs: listed - started,
      actMs: done - listed,
      passMs: done - started,
    }),
  );
  if (failed > 0) process.exitCode = 69;
}

main().catch((e) => {
  console.error(`cleanup-jsforce: ${e.stack || e}`);
  process.exit(70);
});
