//! The stencil's task and region names, and its expert mapper.

runtime::app_names! {
    /// Task and region names of the stencil, for compile-time checks of its mappers.
    pub mod names {
        init(tile: [tiles, grid]);
        stencil(ghost: [ghost, grid], out: [interior, grid]);
        increment(tile: [tiles, grid]);
    }
}

runtime::mapper! {
    pub StencilExpert for names;
    // Stencil (PRK 2-D star stencil, radius 2): expert mapper.
    //
    // App `stencil` (tasks and region arguments, in order):
    //   init(tile)              index launch over the tile grid: input = x + y, output = 0
    //   stencil(ghost, out)     index launch: reads `input` of the tile and a halo of R = 2
    //                           points (aliased partition `ghost`), updates `output` on the
    //                           tile's part of the grid interior (partition `interior`)
    //   increment(tile)         index launch: input += 1 on the tile
    // The tile grid has one tile per processor of the kind the stencil runs on.
    //
    // GPUs when the machine has them, else the OMP processors (one tile per socket: no halo copies
    // between the cores of a socket), else CPUs; tiles and halos in the fastest memory of the
    // processor; unit stride along x (C order), which the GPU kernel needs.

    Task * GPU,OMP,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;
    Region * * OMP SOCKMEM,SYSMEM;

    Layout * * * SOA C_order;

    // Tile rows are blocked over nodes, then a node's tiles (row-major) are blocked over its
    // processors, so that neighbouring tiles share a node and, where possible, a processor.
    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(OMP).volume > 0 ? Machine(OMP) : Machine(CPU);

    def block_nodes(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        nodes = m.size[0];
        node = ip[0] * nodes / is[0];
        first = (node * is[0] + nodes - 1) / nodes;
        next = ((node + 1) * is[0] + nodes - 1) / nodes;
        local = (ip[0] - first) * is[1] + ip[1];
        count = (next - first) * is[1];
        return m[node, local * m.size[1] / count];
    }

    IndexTaskMap init, stencil, increment block_nodes;
}

/// The expert, with the file it is written in.
pub fn expert() -> crate::Expert {
    crate::expert!(StencilExpert)
}
