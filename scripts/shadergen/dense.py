RMAX = 4
import os
NBMAX = 8
def g(cond, body):
    return body if not cond else f"if ({cond}) {{ {body} }}"
xs, fs, red, wl, bs, xb = [], [], [], [], [], []
for r in range(RMAX):
    bs.append(f"  let b{r} = min(r0 + {r}u, rLast) * p.inF4;")
    wl.append(f"    let w{r} = w[b{r} + c];")
for n in range(NBMAX):
    xb.append(f"  let xb{n} = min(n0 + {n}u, nLast) * p.inF;")
    xs.append("    " + (f"let x{n} = xAt(xb{n}, k);" if n == 0 else f"var x{n} = vec4<f32>(0.0); if (NB > {n}u) {{ x{n} = xAt(xb{n}, k); }}"))
for r in range(RMAX):
    for n in range(NBMAX):
        conds = [f"NB > {n}u"] if n else []
        fs.append("    " + g(" && ".join(conds), f"acc[{r}][{n}] = fma(w{r}, x{n}, acc[{r}][{n}]);"))
        red.append("  " + g(" && ".join(conds), f"red[{r * NBMAX + n}u * WG + t] = dot(acc[{r}][{n}], vec4<f32>(1.0));"))
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dense.tmpl.wgsl')).read()
for k, v in {'//X_LOADS//': xs, '//FMAS//': fs, '//RED//': red, '//W_LOADS//': wl, '//W_BASES//': bs, '//X_BASES//': xb}.items():
    src = src.replace(k, "\n".join(v))
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shaders', 'forward', 'dense.wgsl'), 'w').write(src)
