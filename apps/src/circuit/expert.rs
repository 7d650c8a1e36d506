//! The circuit's task and region names, and its expert mapper.

runtime::app_names! {
    /// Task and region names of the circuit, for compile-time checks of its mappers.
    pub mod names {
        init_pieces(wires: [all_wires], nodes: [all_nodes]);
        calculate_new_currents(wires: [rp_wires, all_wires], private_nodes: [rp_private, all_nodes], shared_nodes: [rp_shared, all_nodes], ghost_nodes: [rp_ghost, all_nodes]);
        distribute_charge(wires: [rp_wires, all_wires], private_nodes: [rp_private, all_nodes], shared_nodes: [rp_shared, all_nodes], ghost_nodes: [rp_ghost, all_nodes]);
        update_voltages(private_nodes: [rp_private, all_nodes], shared_nodes: [rp_shared, all_nodes]);
    }
}

runtime::mapper! {
    pub CircuitExpert for names;
    // Circuit: expert mapper (DSL.md section 7).
    //
    // App `circuit` (tasks and region arguments, in order):
    //   init_pieces(wires, nodes)       single launch on a CPU: builds the whole graph
    //   calculate_new_currents(wires, private_nodes, shared_nodes, ghost_nodes)
    //                                   index launch over pieces: RLC steps on every wire
    //   distribute_charge(wires, private_nodes, shared_nodes, ghost_nodes)
    //                                   index launch: charge into private nodes, a sum
    //                                   reduction into shared and ghost nodes
    //   update_voltages(private_nodes, shared_nodes)   index launch: voltages from charges
    // Regions all_nodes and all_wires; partitions rp_private, rp_shared (disjoint), rp_ghost
    // (aliased: the other pieces' shared nodes a piece's wires reach) of all_nodes, and
    // rp_wires of all_wires.
    //
    // GPUs first, CPUs where there are none; a piece's wires and private nodes in the
    // framebuffer; shared and ghost nodes, which every iteration exchanges between pieces, in
    // zero-copy memory; the initialisation on a CPU, building the graph in pinned zero-copy memory
    // (where the machine has it), from which the GPUs' first copies run at the pinned rate.

    Task * GPU,CPU;
    Task init_pieces CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;
    Region * rp_shared GPU ZCMEM;
    Region * rp_ghost GPU ZCMEM;
    Region init_pieces * CPU ZCMEM,SYSMEM;

    Layout * * * SOA C_order;

    // Pieces are blocked linearly over nodes, then a node's pieces over its processors.
    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);

    def block1d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        nodes = m.size[0];
        node = ip[0] * nodes / is[0];
        first = (node * is[0] + nodes - 1) / nodes;
        next = ((node + 1) * is[0] + nodes - 1) / nodes;
        return m[node, (ip[0] - first) * m.size[1] / (next - first)];
    }

    IndexTaskMap calculate_new_currents, distribute_charge, update_voltages block1d;
}

/// The expert, with the file it is written in.
pub fn expert() -> crate::Expert {
    crate::expert!(CircuitExpert)
}
