import { mergeRuns } from '../../src/node/eval/merge.ts';
import { defineCommand } from '../options.ts';

interface Args {
  dirs: string[];
  out: string;
  force: boolean;
}

export const mergeCommand = defineCommand<Args>({
  command: 'merge <dirs..>',
  describe: 'Combine the shard folders of lrp eval --shard i/n into the report of the whole run (each shard verified: finished, intact, of the same run)',
  positionals: [['dirs', { type: 'string', array: true, demandOption: true, describe: 'the shard folders' }]],
  options: [
    { name: 'out', opt: { type: 'string', demandOption: true, describe: 'folder for the merged records and report: new or empty (never a shard)' } },
    { name: 'force', opt: { type: 'boolean', default: false, describe: 'write into a non-empty --out, replacing its merge files' } },
  ],
  examples: [
    ['merge runs/imagenet-0 runs/imagenet-1 runs/imagenet-2 runs/imagenet-3 --out runs/imagenet', 'four shards into one report, as an unsharded run gives'],
    ['merge runs/shard-* --out runs/all --force', 'every shard folder the shell finds, into a folder that held an earlier merge'],
  ],
  handler: async (args) => {
    const r = await mergeRuns(args.dirs, args.out, { force: args.force });
    console.log(`${r.images} images, ${r.pairs} pairs, ${r.records} records, ${r.skipped.count} skipped; report in ${args.out}/report.md`);
  },
});
