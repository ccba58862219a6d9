import { DEFAULT_HOST, DEFAULT_PORT, startWebServer } from '../../src/node/web/server.ts';
import { defineCommand, wholeAtLeast } from '../options.ts';

interface Args {
  port: number;
  host: string;
  verbose: boolean;
}

export const webCommand = defineCommand<Args>({
  command: 'web',
  describe: 'Serve, on localhost only, a page that runs the relevance pass in the browser on its WebGPU',
  options: [
    {
      name: 'port', opt: { type: 'number', default: DEFAULT_PORT, describe: 'port to listen on (0: any free one)' },
      check: (v: number) => wholeAtLeast(0)('port')(v) ?? (v <= 65535 ? null : `--port must be at most 65535, got ${v}`),
    },
    { name: 'host', opt: { type: 'string', default: DEFAULT_HOST, describe: 'loopback address to bind: 127.0.0.1, ::1 or localhost (nothing else)' } },
    { name: 'verbose', opt: { type: 'boolean', default: false, describe: 'log every request' } },
  ],
  examples: [
    ['web', 'the page at http://127.0.0.1:8080/, opening with the demo model and an example already explained'],
    ['web --port 0 --verbose', 'any free port, every request logged'],
  ],
  handler: async (args) => {
    const server = await startWebServer({
      port: args.port, host: args.host, log: args.verbose ? (line) => console.log(line) : undefined,
    });
    for (const note of server.notes) console.log(note);
    console.log(`serving ${server.url} (localhost only; Ctrl-C stops)`);
    console.log('open it in Chrome, Edge or Chromium 113+; on Linux start the browser with --enable-unsafe-webgpu');
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        console.log('stopping');
        server.close().then(done, done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
});
