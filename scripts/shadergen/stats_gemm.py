# Generates shaders/patterns/stats_gemm.wgsl from stats_gemm.tmpl.wgsl: the FMA and store blocks
# are unrolled by hand so that the accumulators are only ever indexed by constants.
import os
from blocks import MAXPQ, MAXQ, fma_blocks

st = []
for t in range(4 * MAXQ):
    st.append(f"  if (nRow < N2) {{" if t == 0 else f"  if (TN > {t}u && nRow + {t}u < N2) {{")
    st.append(f"    let col = nRow;" if t == 0 else f"    let col = nRow + {t}u;")
    st.append(f"    storeQuad(q0, kq0, col, g, s, acc[0][{t}]);")
    for j in range(1, MAXPQ):
        st.append(f"    if (PQ > {j}u) {{ storeQuad(q{j}, kq0 + {4*j}u * TX, col, g, s, acc[{j}][{t}]); }}")
    st.append("  }")
here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, 'stats_gemm.tmpl.wgsl')).read().replace('//FMA_BLOCKS//', fma_blocks()).replace('//STORE_BLOCKS//', "\n".join(st))
os.makedirs(os.path.join(here, '..', '..', 'shaders', 'patterns'), exist_ok=True)
open(os.path.join(here, '..', '..', 'shaders', 'patterns', 'stats_gemm.wgsl'), 'w').write(src)
