/*
 * The codes shared by the C kernels (simd_*.h), _kernels.pyx and _small.pyx
 * (through _elementwise.pxd): which cost, which activation, which monitor
 * metric.  vgcore.kernels maps the Python names to these numbers.
 */
#ifndef VG_CODES_H
#define VG_CODES_H

/* The costs the kernels know (vgcore.kernels maps the cost classes). */
enum vg_cost {
    VG_COST_CROSS_ENTROPY = 0,
    VG_COST_QUADRATIC = 1
};

/* Activations of the hidden layers; the output layer is always sigmoid. */
enum vg_activation {
    VG_ACT_SIGMOID = 0,     /* 1 / (1 + exp(-z)) */
    VG_ACT_TANH = 1,        /* tanh z */
    VG_ACT_SOFTSIGN = 2,    /* z / (1 + |z|) */
    VG_ACT_RELU = 3,        /* max(z, 0) */
    VG_N_ACTS = 4
};

/* The monitor's metrics, in the order of the last axis of its buffer. */
enum vg_metric {
    VG_MON_GRAD_B = 0,      /* ||mean dC/db||: the learning speed */
    VG_MON_GRAD_W = 1,      /* ||mean dC/dw|| */
    VG_MON_ACT_MEAN = 2,    /* mean of the activations */
    VG_MON_ACT_STD = 3,     /* their standard deviation */
    VG_MON_SATURATED = 4,   /* fraction saturated (ReLU: units dead) */
    VG_MON_UPDATE_RATIO = 5,/* ||Delta w|| / ||w|| of the last update */
    VG_N_METRICS = 6
};

/* An activation is saturated within this distance of an asymptote. */
#define VG_SATURATION_MARGIN 0.01

/* The monitor's sums over activations are kept in this many lanes (a
   64-byte vector of doubles), added up once per record. */
#define VG_STATS_LANES 8

#endif  /* VG_CODES_H */
