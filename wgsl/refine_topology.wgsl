// CSR accessors of the Refine gather passes (included after refine_common.wgsl by the kernels
// that bind `topology: array<u32>`; sdk/gpu/refine-common.ts `packTopology` builds it).
// `topology` layout:
//   incident-triangle CSR at 0: topology[i] .. topology[i+1] (absolute) hold the entries
//     3f + corner of every triangle f with corner `corner` at vertex i;
//   one-ring CSR at A = params.sizes.z: topology[A + i] .. topology[A + i + 1] (absolute) hold
//     the neighbour vertex ids of i (symmetric, no self loops).
fn incidentBegin(i: u32) -> u32 { return topology[i]; }
fn incidentEnd(i: u32) -> u32 { return topology[i + 1u]; }
fn ringBegin(i: u32) -> u32 { return topology[params.sizes.z + i]; }
fn ringEnd(i: u32) -> u32 { return topology[params.sizes.z + i + 1u]; }

