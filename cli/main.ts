import { hideBin } from 'yargs/helpers';
import { runCli } from './app.ts';

process.exitCode = await runCli(hideBin(process.argv));
