# Generates shaders/patterns/stats_gemm.wgsl from stats_gemm.tmpl.wgsl: the FMA and parking blocks
# are unrolled by hand so that the accumulators are only ever indexed by constants.
import os
from blocks import MAXPQ, MAXQ, fma_blocks

# Parks quad row j's accumulators in workgroup memory for the cooperative epilogue.
st = []
for j in range(MAXPQ):
    st.append(f"    if (j == {j}u) {{" if j else "    if (j == 0u) {")
    for t in range(4 * MAXQ):
        line = f"tile[({'ty * TN' if t == 0 else f'ty * TN + {t}u'}) * TX + tx] = acc[{j}][{t}];"
        st.append(f"      {line}" if t < 4 else f"      if (TN > {t}u) {{ {line} }}")
    st.append("    }")
here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, 'stats_gemm.tmpl.wgsl')).read().replace('//FMA_BLOCKS//', fma_blocks()).replace('//PARK_BLOCKS//', "\n".join(st))
os.makedirs(os.path.join(here, '..', '..', 'shaders', 'patterns'), exist_ok=True)
open(os.path.join(here, '..', '..', 'shaders', 'patterns', 'stats_gemm.wgsl'), 'w').write(src)
