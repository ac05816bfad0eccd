"""The datasets `keras.datasets` ships: MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 (fine
labels). Keras downloads them into its cache (`$KERAS_HOME/datasets`, default `~/.keras`) when
online and reads the cache offline. They come split into train and test; ids are
`<name>:<split>:<index in that split>`. Keras loads each one whole, so these are held in memory
while preparing (at most 180 MB, CIFAR); the prepared files are then streamed like any other.
"""

from __future__ import annotations

import numpy as np

from classlens.data.catalog import SourceData
from classlens.errors import InputError

CIFAR100_FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch "
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo "
    "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse "
    "mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy "
    "porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper "
    "snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television "
    "tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split()

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
    "cifar100": CIFAR100_FINE,
}


def load_keras_dataset(name: str) -> SourceData:
    """`keras.datasets.<name>.load_data()` as a pre-split in-memory source."""
    if name not in CLASS_NAMES:
        raise InputError(f"keras dataset must be one of {sorted(CLASS_NAMES)}; received {name!r}")
    import keras

    module = getattr(keras.datasets, name)
    kwargs = {"label_mode": "fine"} if name == "cifar100" else {}
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data(**kwargs)
    except Exception as err:  # Keras raises a bare Exception for a failed download
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            f"keras.datasets.{name}.load_data() failed ({reason[:200]}); offline, set KERAS_HOME "
            f"to a Keras cache holding datasets/ for {name} (or use data=idx / data=folder with "
            "local files)"
        ) from None
    images = np.concatenate([x_train, x_test])
    if images.ndim == 3:
        images = images[..., np.newaxis]
    labels = np.concatenate([np.ravel(y_train), np.ravel(y_test)]).astype(np.int64)
    return SourceData(
        images=images.astype(np.uint8, copy=False),
        labels=labels,
        class_names=list(CLASS_NAMES[name]),
        ids=[f"{name}:train:{i}" for i in range(len(x_train))]
        + [f"{name}:test:{i}" for i in range(len(x_test))],
        paths=[""] * len(labels),
        splits=["train"] * len(x_train) + ["test"] * len(x_test),
    )
