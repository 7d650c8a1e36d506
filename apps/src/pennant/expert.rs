//! PENNANT's task and region names, and its expert mapper.

runtime::app_names! {
    /// Task and region names of PENNANT, for compile-time checks of its mappers.
    pub mod names {
        init_mesh(zones: [zones_p, zones], sides: [sides_p, sides], points_private: [points_private, points], points_shared: [points_shared, points]);
        adv_pos_half(points_private: [points_private, points], points_shared: [points_shared, points]);
        calc_ctrs_vols(sides: [sides_p, sides], zones: [zones_p, zones], points_private: [points_private, points], points_ghost: [points_ghost, points]);
        calc_forces(sides: [sides_p, sides], zones: [zones_p, zones]);
        calc_qcs(sides: [sides_p, sides], zones: [zones_p, zones], points_private: [points_private, points], points_ghost: [points_ghost, points]);
        sum_to_points(sides: [sides_p, sides], points_private: [points_private, points], points_ghost: [points_ghost, points]);
        apply_bcs(points_private: [points_private, points], points_shared: [points_shared, points]);
        adv_pos_full(points_private: [points_private, points], points_shared: [points_shared, points]);
        update_zones(zones: [zones_p, zones], sides: [sides_p, sides], points_private: [points_private, points], points_ghost: [points_ghost, points]);
        calc_dt(zones: [zones_p, zones]);
    }
}

runtime::mapper! {
    pub PennantExpert for names;
    // PENNANT (Lagrangian staggered-grid hydrodynamics): expert mapper.
    //
    // App `pennant` (tasks and region arguments, in order; every task is an index launch over
    // the pieces, blocks of whole zone rows):
    //   init_mesh(zones, sides, points_private, points_shared)    initial state
    //   adv_pos_half(points_private, points_shared)               half-step positions
    //   calc_ctrs_vols(sides, zones, points_private, points_ghost) centres, areas, volumes
    //   calc_forces(sides, zones)                                 PolyGas and TTS forces
    //   calc_qcs(sides, zones, points_private, points_ghost)      QCS viscosity
    //   sum_to_points(sides, points_private, points_ghost)        corner sums, reduced into
    //                                                             the boundary points
    //   apply_bcs(points_private, points_shared)                  fixed boundaries
    //   adv_pos_full(points_private, points_shared)               full-step positions
    //   update_zones(zones, sides, points_private, points_ghost)  work, energy, density
    //   calc_dt(zones)                                            the piece's dt limit
    // Regions: zones, sides, points; partitions zones_p, sides_p, points_private and
    // points_shared (disjoint) and points_ghost (aliased: every boundary point a piece
    // touches).
    //
    // GPUs when the machine has them, else CPUs. The boundary points every neighbour reads
    // and reduces into stay in zero-copy memory on GPUs; everything else in the fastest
    // memory of the processor.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;
    Region * points_shared GPU ZCMEM;
    Region * points_ghost GPU ZCMEM;

    Layout * * * SOA C_order;

    // Pieces cyclic over all processors of all nodes: a piece's tasks stay on one processor.
    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);
    mflat = m.merge(0, 1);

    def piece_cyclic(Task task) {
        return mflat[task.ipoint[0] % mflat.volume];
    }

    IndexTaskMap init_mesh, adv_pos_half, calc_ctrs_vols, calc_forces, calc_qcs, sum_to_points, apply_bcs, adv_pos_full, update_zones, calc_dt piece_cyclic;
}

/// The expert, with the file it is written in.
pub fn expert() -> crate::Expert {
    crate::expert!(PennantExpert)
}
