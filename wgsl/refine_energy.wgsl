// Refine energy reduction (docs/design/refine.md step 5): sums the per-vertex energy shares of
// pass (b) into one record (E_photo, E_grad, E_reg unweighted, |V|) and appends it to the log
// at log.count (then count += 1), so a run recorded into one command buffer logs its energies
// without readback. One workgroup of WORKGROUP_SIZE invocations: a strided serial sum per
// invocation, then a tree in workgroup memory. TS twin: sdk/gpu/refine-energy.ts.

override WORKGROUP_SIZE: u32 = 256u;

struct EnergyLog {
  // Number of records written so far (reset with clearBuffer before a run).
  count: u32,
  // Capacity of `records`.
  capacity: u32,
  _pad0: u32,
  _pad1: u32,
  records: array<vec4<f32>>,
}

@group(0) @binding(0) var<uniform> params: RefineParams;
@group(0) @binding(1) var<storage, read> grads: array<VertexGrad>;
@group(0) @binding(2) var<storage, read_write> energyLog: EnergyLog;

var<workgroup> partial: array<vec4<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = vec4<f32>(0.0);
  for (var i = lid; i < params.sizes.x; i += WORKGROUP_SIZE) {
    sum += grads[i].energy;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let slot = energyLog.count;
    if (slot < energyLog.capacity) {
      energyLog.records[slot] = partial[0];
    }
    energyLog.count = slot + 1u;
  }
}
