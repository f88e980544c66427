"""Training of the digit classifiers (ConvNeXt-Tiny, LeNet-5, AlexNet): data, models, export."""
