import type { CommandModule } from 'yargs';
import { DEMO_PATTERN_IMAGES, runDemo } from '../../src/node/demo/run.ts';

interface Args {
  out: string;
  images: number;
  gallery: number;
  batch: number;
  'pattern-images': number;
}

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'Run the paper\'s evaluation on a synthetic boxes set with the bundled demo model',
  builder: (y) => y
    .option('out', { type: 'string', default: 'demo-output', describe: 'the folder to write (data, eval, occlusion, gallery)' })
    .option('images', { type: 'number', default: 160, describe: 'held-out images to synthesise and evaluate' })
    .option('gallery', { type: 'number', default: 12, describe: 'images in the heatmap gallery' })
    .option('batch', { type: 'number', default: 32, describe: 'images per GPU batch' })
    .option('pattern-images', { type: 'number', default: DEMO_PATTERN_IMAGES, describe: 'images (another seed) to learn PatternAttribution\'s patterns from' }),
  handler: async (args) => {
    const r = await runDemo({
      out: args.out, images: args.images, gallery: args.gallery, batch: args.batch, patternImages: args['pattern-images'],
      log: (l) => console.error(l), progress: true,
    });
    console.log('');
    console.log(r.table);
    console.log('');
    const f = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
    console.log(`occlusion (Fig. 2): mean relative logit change ${f(r.occlusion.object)} occluding the objects, ${f(r.occlusion.context)} occluding the context`);
    console.log(`done in ${r.seconds.toFixed(0)} s. Everything is in ${r.out}:`);
    console.log(`  report     ${r.report} (and report.json, curve.svg, curve.csv beside it)`);
    console.log(`  patterns   ${r.out}/patterns (PatternAttribution's, learned by lrp patterns)`);
    console.log(`  occlusion  ${r.out}/occlusion/occlusion.svg`);
    console.log(`  gallery    ${r.gallery}`);
  },
};
