#!/bin/sh
# Writes bomb.zip in the current directory: a nested zip bomb, as the tests build it.
# 20 MiB of zeros deflate to 20 kB. Ten copies per level, three levels: 1000 leaves, 20 GiB
# if expanded. The middle level's members are deflated (named .jar, which zip compresses),
# so those zips are held in memory by a reader; the others are stored.
set -e
head -c 20M /dev/zero > zeros.bin
zip -q l0.zip zeros.bin
for i in 0 1 2 3 4 5 6 7 8 9; do cp l0.zip l0-$i.zip; done
zip -q l1.zip l0-*.zip
for i in 0 1 2 3 4 5 6 7 8 9; do cp l1.zip l1-$i.jar; done
zip -q l2.zip l1-*.jar
for i in 0 1 2 3 4 5 6 7 8 9; do cp l2.zip l2-$i.zip; done
zip -q bomb.zip l2-*.zip
rm zeros.bin l0*.zip l1*.zip l1-*.jar l2*.zip
