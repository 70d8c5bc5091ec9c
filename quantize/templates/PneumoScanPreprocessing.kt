// PneumoScanPreprocessing.kt: port of edge_app.preprocess ("{{preprocessing}}" v{{preprocessing_version}}) and of the
// int8 input quantization of edge_app.runtime.TFLiteClassifier. Plain Kotlin without the Android SDK: the
// Android calls (decoding a file into pixels) are in PneumoScanAndroid.kt, so this file also runs on a JVM.
package org.pneumoscan

import kotlin.math.abs
import kotlin.math.max
import kotlin.math.min

object PneumoScanPreprocessing {
    const val NAME = "{{preprocessing}}"
    const val VERSION = {{preprocessing_version}}

    /** Pillow's JPEG draft scale: 8, 4 or 2 while both sides stay >= size after scaling; other formats 1. */
    fun sampleSize(width: Int, height: Int, size: Int, isJpeg: Boolean): Int {
        if (!isJpeg) return 1
        val scale = min(width / size, height / size)
        return intArrayOf(8, 4, 2, 1).firstOrNull { scale >= it } ?: 1
    }

    /** Pillow's convert("L") of ARGB pixels: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16; transparency over black. */
    fun grayscale(argb: IntArray): FloatArray {
        return FloatArray(argb.size) { i ->
            val c = argb[i]
            val a = (c ushr 24) and 0xff
            var r = (c shr 16) and 0xff
            var g = (c shr 8) and 0xff
            var b = c and 0xff
            if (a != 255) { r = (r * a + 127) / 255; g = (g * a + 127) / 255; b = (b * a + 127) / 255 }
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) shr 16).toFloat()
        }
    }

    private class Kernel(val start: IntArray, val weights: Array<DoubleArray>)

    /** Pillow's precompute_coeffs for the bilinear filter (support 1, widened when shrinking). */
    private fun kernel(inSize: Int, outSize: Int): Kernel {
        val scale = inSize.toDouble() / outSize
        val filterScale = max(scale, 1.0)
        val support = filterScale
        val ss = 1.0 / filterScale
        val start = IntArray(outSize)
        val weights = Array(outSize) { xx ->
            val center = (xx + 0.5) * scale
            var xmin = (center - support + 0.5).toInt()
            if (xmin < 0) xmin = 0
            var xmax = (center + support + 0.5).toInt()
            if (xmax > inSize) xmax = inSize
            xmax -= xmin
            val k = DoubleArray(xmax)
            var total = 0.0
            for (x in 0 until xmax) {
                val t = abs((x + xmin - center + 0.5) * ss)
                k[x] = if (t < 1.0) 1.0 - t else 0.0
                total += k[x]
            }
            if (total != 0.0) for (x in 0 until xmax) k[x] /= total
            start[xx] = xmin
            k
        }
        return Kernel(start, weights)
    }

    /** Pillow's Image.resize((size, size), BILINEAR) of a mode "F" image: horizontal pass, then vertical. */
    fun resize(pixels: FloatArray, width: Int, height: Int, size: Int): FloatArray {
        val kx = kernel(width, size)
        val ky = kernel(height, size)
        val rows = FloatArray(size * height)
        for (y in 0 until height) for (xx in 0 until size) {
            var ss = 0.0
            val k = kx.weights[xx]
            for (x in k.indices) ss += pixels[y * width + kx.start[xx] + x].toDouble() * k[x]
            rows[y * size + xx] = ss.toFloat()
        }
        val out = FloatArray(size * size)
        for (yy in 0 until size) for (x in 0 until size) {
            var ss = 0.0
            val k = ky.weights[yy]
            for (y in k.indices) ss += rows[(ky.start[yy] + y) * size + x].toDouble() * k[y]
            out[yy * size + x] = ss.toFloat()
        }
        return out
    }

    /** Histogram equalisation to [-1, 1], each intensity mapped to its mid-rank (float32 binning like numpy). */
    fun equalise(p: FloatArray): FloatArray {
        var low = Float.POSITIVE_INFINITY
        var high = Float.NEGATIVE_INFINITY
        for (v in p) { if (v < low) low = v; if (v > high) high = v }
        if (high.toDouble() - low.toDouble() < 1e-6) return FloatArray(p.size)
        val factor = (256.0 / (high.toDouble() - low.toDouble())).toFloat()
        val bins = IntArray(p.size) { i -> min(((p[i] - low) * factor).toInt(), 255) }
        val counts = LongArray(256)
        for (b in bins) counts[b]++
        val midRank = DoubleArray(256)
        var cumulative = 0L
        for (i in 0 until 256) { cumulative += counts[i]; midRank[i] = cumulative - counts[i] / 2.0 }
        for (i in 0 until 256) midRank[i] /= cumulative.toDouble()
        return FloatArray(p.size) { i -> (midRank[bins[i]] * 2.0 - 1.0).toFloat() }
    }

    /** Decoded ARGB pixels (row-major, as Bitmap.getPixels gives them) -> (size x size) model input in [-1, 1]. */
    fun preprocess(argb: IntArray, width: Int, height: Int, size: Int): FloatArray =
        equalise(resize(grayscale(argb), width, height, size))

    /** q = round_half_even(x / scale + zero_point), clamped to int8, in float32 arithmetic like numpy. */
    fun quantize(x: FloatArray, scale: Float, zeroPoint: Int): ByteArray =
        ByteArray(x.size) { i -> Math.rint((x[i] / scale + zeroPoint).toDouble()).toInt().coerceIn(-128, 127).toByte() }
}
