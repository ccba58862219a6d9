import type { HeatmapMode } from '../../src/heatmap/index.ts';
import { DEMO_AOPC, DEMO_AOPC_IMAGES, DEMO_PATTERN_IMAGES, DEMO_SANITY_ANALYZERS, DEMO_SANITY_IMAGES, runDemo } from '../../src/node/demo/run.ts';
import { batchOption, defineCommand, RENDER_OPTIONS, VERBOSE_OPTION, wholeAtLeast } from '../options.ts';

interface Args {
  out: string;
  images: number;
  gallery: number;
  batch: number;
  'pattern-images': number;
  'aopc-images': number;
  'sanity-images': number;
  seed: number;
  cmap: string;
  clip: number;
  mode: HeatmapMode;
  overlay: boolean;
  verbose: boolean;
}

export const demoCommand = defineCommand<Args>({
  command: 'demo',
  describe: 'Run the paper\'s evaluation on a synthetic boxes set with the bundled demo model',
  options: [
    { name: 'out', opt: { type: 'string', default: 'demo-output', describe: 'the folder to write (data, eval, occlusion, gallery)' } },
    { name: 'images', opt: { type: 'number', default: 160, describe: 'held-out images to synthesise and evaluate' }, check: wholeAtLeast(1)('images') },
    { name: 'gallery', opt: { type: 'number', default: 12, describe: 'images in the heatmap gallery' }, check: wholeAtLeast(0)('gallery') },
    { name: 'seed', opt: { type: 'number', default: 0, describe: 'seeds the gallery\'s choice of images' }, check: wholeAtLeast(0)('seed') },
    batchOption('images per GPU batch', 32),
    {
      name: 'pattern-images',
      opt: { type: 'number', default: DEMO_PATTERN_IMAGES, describe: 'images of another seed to learn PatternAttribution\'s patterns from' },
      check: wholeAtLeast(1)('pattern-images'),
    },
    {
      name: 'aopc-images',
      opt: { type: 'number', default: DEMO_AOPC_IMAGES, describe: `held-out images region perturbation (AOPC, ${DEMO_AOPC.steps} steps of ${DEMO_AOPC.patch}×${DEMO_AOPC.patch} patches) runs on; 0: none` },
      check: wholeAtLeast(0)('aopc-images'),
    },
    {
      name: 'sanity-images',
      opt: { type: 'number', default: DEMO_SANITY_IMAGES, describe: `held-out images the randomization check (lrp sanity: ${DEMO_SANITY_ANALYZERS.join(', ')}) runs on; 0: none` },
      check: wholeAtLeast(0)('sanity-images'),
    },
    ...RENDER_OPTIONS,
    VERBOSE_OPTION,
  ],
  examples: [
    ['demo', 'Table 1, Fig. 2 and 3 and a gallery in demo-output/ (under a minute without a GPU once its kernels are compiled)'],
    ['demo --images 400 --gallery 24 --cmap seismic --overlay', 'a larger run, its gallery drawn over the images'],
  ],
  handler: async (args) => {
    const r = await runDemo({
      out: args.out, images: args.images, gallery: args.gallery, batch: args.batch, patternImages: args['pattern-images'], seed: args.seed, aopcImages: args['aopc-images'], sanityImages: args['sanity-images'],
      render: { cmap: args.cmap, mode: args.mode, clip: args.clip, overlay: args.overlay },
      log: (l) => console.error(l), progress: true,
    });
    console.log('');
    console.log(r.table);
    console.log('');
    if (r.aopc) {
      console.log(`region perturbation (AOPC) on the first ${Math.min(args['aopc-images'], args.images)} images: higher AOPC-MoRF and ABPC, lower AOPC-LeRF are better; every analyzer should beat the random order`);
      console.log(r.aopc.table);
      console.log('');
    }
    if (r.sanity) {
      console.log(`randomization check (lrp sanity) on the first ${Math.min(args['sanity-images'], args.images)} images: similarity to the original maps as layers are randomised from the output down; an analyzer that passes loses it`);
      console.log(r.sanity.table);
      console.log('');
    }
    const f = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
    console.log(`occlusion (Fig. 2): mean relative logit change ${f(r.occlusion.object)} occluding the objects, ${f(r.occlusion.context)} occluding the context`);
    console.log(`done in ${r.seconds.toFixed(0)} s. Everything is in ${r.out}:`);
    console.log(`  report     ${r.report} (and report.json, curve.svg, curve.csv beside it)`);
    console.log(`  patterns   ${r.out}/patterns (PatternAttribution's, learned by lrp patterns)`);
    if (r.aopc) console.log(`  AOPC       ${r.aopc.report} (and aopc.svg, aopc.csv beside it)`);
    if (r.sanity) console.log(`  sanity     ${r.sanity.report} (and sanity-spearman.svg, sanity-ssim.svg beside it)`);
    console.log(`  occlusion  ${r.out}/occlusion/occlusion.svg`);
    console.log(`  gallery    ${r.gallery}`);
  },
});
