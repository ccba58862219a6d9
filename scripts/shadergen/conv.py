# Generates shaders/forward/conv2d.wgsl from conv2d.tmpl.wgsl: the FMA and store blocks are
# unrolled by hand so that the accumulators are only ever indexed by constants.
import os
from blocks import MAXPQ, MAXQ, fma_blocks

st = []
for t in range(4 * MAXQ):
    st.append(f"  if (nRow < p.coutPerGroup) {{" if t == 0 else f"  if (TN > {t}u && nRow + {t}u < p.coutPerGroup) {{")
    st.append(f"    let co = g * p.coutPerGroup + nRow;" if t == 0 else f"    let co = g * p.coutPerGroup + nRow + {t}u;")
    st.append(f"    let b = biasOf(co);")
    st.append(f"    storeQuad(q0, co, acc[0][{t}] + b);")
    for j in range(1, MAXPQ):
        st.append(f"    if (PQ > {j}u) {{ storeQuad(q{j}, co, acc[{j}][{t}] + b); }}")
    st.append("  }")
store = "\n".join(st)
here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, 'conv2d.tmpl.wgsl')).read().replace('//FMA_BLOCKS//', fma_blocks()).replace('//STORE_BLOCKS//', store)
open(os.path.join(here, '..', '..', 'shaders', 'forward', 'conv2d.wgsl'), 'w').write(src)
