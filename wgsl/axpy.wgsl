// y ← a·x + y over n f32 elements (BLAS saxpy). TS twin: sdk/gpu/axpy.ts.
// One invocation per element; the grid may be 2-D when n / WORKGROUP_SIZE exceeds the
// 65535-workgroup limit per dimension, so the flat index folds in global_invocation_id.y.

struct AxpyParams {
  a: f32,
  n: u32,
  // Number of invocations along x (= workgroups along x · WORKGROUP_SIZE).
  rowStride: u32,
  _pad: u32,
}

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: AxpyParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i < params.n) {
    y[i] = params.a * x[i] + y[i];
  }
}
