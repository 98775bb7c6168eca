/**
 * Runs s3rver (an S3 server in JavaScript, storing objects under a directory) as its own process:
 * `node --openssl-legacy-provider s3rver-process.js <directory> <port>`. Prints `{"port":N}` on
 * stdout once it listens on 127.0.0.1 (port 0 picks a free one); SIGTERM or SIGKILL stops it, and
 * so does the end of its stdin: it never outlives the test process that started it.
 *
 * Why a process and that flag: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 only offers through its legacy provider, enabled at process start; and a process can be
 * killed mid-request, which is what the outage test needs.
 */
import S3rver from 's3rver';

const [directory, portArg] = process.argv.slice(2);
if (!directory) {
  process.stderr.write('usage: s3rver-process.js <directory> [port]\n');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: Number(portArg ?? 0), silent: true, directory });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
