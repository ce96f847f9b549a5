// Listeners inside a test host's namespace, for proxyroute-dns.test.ts: `good=ADDR:PORT` answers
// HTTP 200 "good <ADDR>", `trap=ADDR:PORT` records every connection and every byte it receives.
// Prints {"listening":true} once all listen, then one JSON line per trap connection when it closes.
import http from 'node:http';
import net from 'node:net';

function split(spec: string): { host: string; port: number } {
  const at = spec.lastIndexOf(':');
  return { host: spec.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(spec.slice(at + 1)) };
}

const listening: Array<Promise<void>> = [];
for (const arg of process.argv.slice(2)) {
  const [kind, spec] = arg.split('=') as [string, string];
  const { host, port } = split(spec);
  const server = kind === 'good'
    ? http.createServer((_req, res) => res.end(`good ${host}`))
    : net.createServer((socket) => {
      let bytes = 0;
      // Counted, then hung up on: nothing is ever answered from a trap.
      socket.on('data', (d) => { bytes += d.length; socket.end(); });
      socket.on('error', () => {});
      socket.on('close', () => process.stdout.write(`${JSON.stringify({ trap: spec, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, bytes })}\n`));
    });
  listening.push(new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  }));
}
await Promise.all(listening);
process.stdout.write(`${JSON.stringify({ listening: true })}\n`);
process.on('SIGTERM', () => process.exit(0));
