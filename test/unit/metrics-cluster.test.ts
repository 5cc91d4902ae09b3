import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { serveClusterMetrics } from '../../server/metrics/cluster.ts';

function fork(index: number, env: Record<string, string> = {}): Promise<Worker> {
  const worker = cluster.fork({ VISITFLOW_WORKER_INDEX: String(index), ...env });
  return new Promise((resolve) => worker.on('message', (m) => m?.type === 'test:ready' && resolve(worker)));
}

function scrapeThrough(worker: Worker): Promise<{ text?: string; error?: string }> {
  return new Promise((resolve) => {
    const onMessage = (m: any) => {
      if (m?.type !== 'test:text') return;
      worker.off('message', onMessage);
      resolve(m);
    };
    worker.on('message', onMessage);
    worker.send({ type: 'test:scrape' });
  });
}

test('WORKERS > 1: a scrape that reaches one worker shows every listening worker, labelled, not summed', async (t) => {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('../fixtures/metrics-cluster-worker.ts', import.meta.url)) });
  const workers = await Promise.all([fork(1), fork(2)]);
  const silent = await fork(3, { FIXTURE_SILENT: '1' });
  const listening = new Set<Worker>(workers);
  serveClusterMetrics(() => [...listening], 300);
  try {
    const { text, error } = await scrapeThrough(workers[1]);
    t.is(error, undefined);
    t.regex(text!, /visitflow_http_requests_total\{route="\/api\/applications\/:id",status="200",worker="1"\} 10\n/);
    t.regex(text!, /visitflow_http_requests_total\{route="\/api\/applications\/:id",status="200",worker="2"\} 20\n/);
    t.is(text!.match(/^# TYPE visitflow_http_requests_total counter$/gm)?.length, 1, 'one family, both workers in it');
    t.regex(text!, /visitflow_metrics_workers\{answered="true"\} 2\n/);
    t.regex(text!, /visitflow_metrics_workers\{answered="false"\} 0\n/);

    // A worker counted as listening that does not answer is left out after the time limit; the scrape still answers.
    listening.add(silent);
    const late = await scrapeThrough(workers[0]);
    t.regex(late.text!, /worker="2"\} 20\n/);
    t.regex(late.text!, /visitflow_metrics_workers\{answered="true"\} 2\n/);
    t.regex(late.text!, /visitflow_metrics_workers\{answered="false"\} 1\n/);
  } finally {
    for (const w of [...workers, silent]) w.kill();
  }
});
