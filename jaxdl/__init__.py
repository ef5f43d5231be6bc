"""jaxdl: the first chapters of Dive into Deep Learning as pure, jitted, tested JAX.

``import jaxdl`` imports none of its modules: each public name is imported from its module
on first use (PEP 562), so flax, optax, matplotlib, pandas and tqdm load only when needed.

>>> import jax.numpy as jnp
>>> import jaxdl
>>> float(jaxdl.l2_norm(jnp.array([3.0, -4.0])))
5.0
"""

from jaxdl._lazy import attach

__all__ = [
    *attach(
        __name__,
        {
            "activations": [
                "ACTIVATIONS",
                "get_activation",
                "log_softmax",
                "naive_softmax",
                "relu",
                "sigmoid",
                "softmax",
                "tanh",
            ],
            "calculus": ["numerical_grad", "numerical_lim"],
            "conv": [
                "conv2d_apply",
                "conv2d_init",
                "conv2d_layer",
                "corr2d",
                "corr2d_loop",
                "corr2d_multi_in",
                "corr2d_multi_in_out",
                "corr2d_multi_in_out_1x1",
                "learn_kernel",
                "pool2d",
                "pool2d_loop",
                "pytorch_conv_kernel",
                "squared_error_sum",
            ],
            "data.synthetic": ["polynomial_data", "polynomial_features"],
            "engine.divergence": ["check_finite", "divergences"],
            "engine.drivers": ["Result", "fit", "train"],
            "engine.epoch": ["make_epoch"],
            "initializers": ["xavier_normal", "xavier_std", "xavier_uniform"],
            "linalg": ["frobenius_norm", "l1_norm", "l2_norm"],
            "losses": ["cross_entropy", "huber_loss", "l1_loss", "squared_loss"],
            "metrics": ["accuracy", "correct", "log_rmse", "squared_log_error"],
            "models.dropout": ["dropout_layer"],
            "engine.keys": ["run_keys", "shuffle_key", "step_key"],
            "model": [
                "Model",
                "TrainState",
                "batch_mask",
                "from_flax",
                "init_state",
                "predict",
                "stateless",
            ],
            "optim": ["adam", "l2_penalty", "sgd", "sgd_weight_decay"],
            "params": ["num_params", "param_table"],
            "plotting": ["loss_panels", "new_figure", "plot", "save_figure", "set_axes"],
            "engine.record": ["Run"],
            "selection": ["cross_validate", "k_fold_splits", "masked_linear"],
        },
    ),
    "data",
    "models",
]
