"""Train the actiongen model with ``model.fit`` in a script of one's own.

DATA_DIR is a built dataset (``actiongen dataset build SESSIONS --out DATA_DIR``); the model
takes its sizes (vocabularies, window lengths, timing quantiles) from it::

    python examples/train_script.py DATA_DIR model.keras --epochs 2
"""

import argparse

import keras

import actiongen_keras as ag


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the actiongen model on a built dataset with model.fit.")
    p.add_argument("data_dir", help="DATA_DIR from 'actiongen dataset build'")
    p.add_argument("out", help="where the trained model goes (.keras)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, help="batches per epoch (default: the whole training split)")
    args = p.parse_args(argv)

    config = ag.Config()  # the defaults of `actiongen train`; change config.model / config.train here
    keras.utils.set_random_seed(config.train.seed)
    model = ag.build_model(config, data_dir=args.data_dir)
    ag.compile_model(model, config, data_dir=args.data_dir)

    train = ag.make_dataset(args.data_dir, "train", args.batch_size, shuffle=True, seed=config.train.seed)
    val = ag.make_dataset(args.data_dir, "validation", args.batch_size, shuffle=False)
    history = model.fit(train, validation_data=val, epochs=args.epochs, steps_per_epoch=args.steps,
                        shuffle=False, verbose=2)  # make_dataset shuffles; Keras cannot shuffle a tf.data pipeline
    model.save(args.out)

    reloaded = ag.load_model(args.out)  # the package's layers, losses and metrics are registered for you
    test = reloaded.evaluate(ag.make_dataset(args.data_dir, "test", args.batch_size, shuffle=False), verbose=0, return_dict=True)
    print(f"val_loss per epoch: {[round(v, 3) for v in history.history['val_loss']]}; test loss {test['loss']:.3f}")
    return history, test


if __name__ == "__main__":
    main()
