# WGSL blocks shared by the generated GEMM kernels (conv2d, stats_gemm): the register-block FMA
# step, unrolled by hand so that the accumulators are only ever indexed by constants (what lets a
# compiler keep them in registers).
MAXPQ = 4
MAXQ = 8   # TN <= 32


def fma_blocks():
    """acc[j][n] += a_j * b[n] for the PQ vec4s a0..a3 of A and the TN columns of the B row at tile[bRow]."""
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
    return "\n".join(lines)
