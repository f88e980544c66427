"""Digit data sets: MNIST and EMNIST from IDX files, synthetic blanks, acta-like augmentation."""
