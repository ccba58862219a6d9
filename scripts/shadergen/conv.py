# Generates shaders/forward/conv2d.wgsl from conv2d.tmpl.wgsl: the FMA blocks are unrolled by
import os
# hand so that the accumulators are only ever indexed by constants.
MAXPQ = 4
MAXQ = 8   # TN <= 32
lines = []
for q in range(MAXQ):
    lines.append("      {" if q == 0 else f"      if (TN > {4*q}u) {{")
    lines.append("        let b = tile[bRow];" if q == 0 else f"        let b = tile[bRow + {q}u];")
    for j in range(MAXPQ):
        a = f"a{j}"
        body = " ".join(f"acc[{j}][{4*q+c}] = fma({a}, vec4<f32>(b.{'xyzw'[c]}), acc[{j}][{4*q+c}]);" for c in range(4))
        if j == 0:
            lines.append(f"        {body}")
        else:
            lines.append(f"        if (PQ > {j}u) {{ {body} }}")
    lines.append("      }")
fma = "\n".join(lines)
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
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'conv2d.tmpl.wgsl')).read().replace('//FMA_BLOCKS//', fma).replace('//STORE_BLOCKS//', store)
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shaders', 'forward', 'conv2d.wgsl'), 'w').write(src)
