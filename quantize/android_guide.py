"""ANDROID.md for the Android export: how to run the model and reproduce the preprocessing in Kotlin.

The Kotlin below is a line-by-line port of `edge_app.preprocess` (Pillow's
JPEG draft decoding, ITU-R 601 luma, Pillow's antialiased bilinear resize of a
float image, histogram equalisation) and of `TFLiteClassifier`'s input
quantization. The export's test vector pins the result: an app whose port
reproduces the input SHA-256 and the int8 output is running the same model on
the same numbers.
"""

from __future__ import annotations

KOTLIN = """\
// PneumoScan.kt: port of edge_app.preprocess ("{preprocessing}" v{preprocessing_version}) and of the
// int8 input/output handling of edge_app.runtime.TFLiteClassifier. Needs
// implementation("com.google.ai.edge.litert:litert:1.4.1") and androidx.exifinterface.
package org.pneumoscan

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import androidx.exifinterface.media.ExifInterface
import org.tensorflow.lite.Interpreter
import java.io.ByteArrayInputStream
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.min

object PneumoScanPreprocessing {{
    const val NAME = "{preprocessing}"
    const val VERSION = {preprocessing_version}

    /** Decode like Pillow's JPEG draft mode: scaled by 1/8, 1/4 or 1/2 while both sides stay >= size. */
    fun decode(bytes: ByteArray, size: Int): Bitmap {{
        val bounds = BitmapFactory.Options().apply {{ inJustDecodeBounds = true }}
        BitmapFactory.decodeByteArray(bytes, 0, bytes.size, bounds)
        require(bounds.outWidth > 0 && bounds.outHeight > 0) {{ "The file is not an image (JPEG or PNG expected)." }}
        val scale = min(bounds.outWidth / size, bounds.outHeight / size)
        val isJpeg = bounds.outMimeType == "image/jpeg"
        val sample = if (isJpeg) intArrayOf(8, 4, 2, 1).firstOrNull {{ scale >= it }} ?: 1 else 1
        val options = BitmapFactory.Options().apply {{
            inSampleSize = sample
            inPreferredConfig = Bitmap.Config.ARGB_8888
            inScaled = false
        }}
        val bitmap = BitmapFactory.decodeByteArray(bytes, 0, bytes.size, options)
        return applyExifOrientation(bitmap, bytes)
    }}

    private fun applyExifOrientation(bitmap: Bitmap, bytes: ByteArray): Bitmap {{
        val orientation = ExifInterface(ByteArrayInputStream(bytes))
            .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
        val m = Matrix()
        when (orientation) {{
            ExifInterface.ORIENTATION_FLIP_HORIZONTAL -> m.setScale(-1f, 1f)
            ExifInterface.ORIENTATION_ROTATE_180 -> m.setRotate(180f)
            ExifInterface.ORIENTATION_FLIP_VERTICAL -> m.setScale(1f, -1f)
            ExifInterface.ORIENTATION_TRANSPOSE -> {{ m.setRotate(90f); m.postScale(-1f, 1f) }}
            ExifInterface.ORIENTATION_ROTATE_90 -> m.setRotate(90f)
            ExifInterface.ORIENTATION_TRANSVERSE -> {{ m.setRotate(-90f); m.postScale(-1f, 1f) }}
            ExifInterface.ORIENTATION_ROTATE_270 -> m.setRotate(-90f)
            else -> return bitmap
        }}
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, false)
    }}

    /** Pillow's convert("L"): L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16; transparency over black. */
    fun grayscale(bitmap: Bitmap): FloatArray {{
        val pixels = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        return FloatArray(pixels.size) {{ i ->
            val c = pixels[i]
            val a = (c ushr 24) and 0xff
            var r = (c shr 16) and 0xff
            var g = (c shr 8) and 0xff
            var b = c and 0xff
            if (a != 255) {{ r = (r * a + 127) / 255; g = (g * a + 127) / 255; b = (b * a + 127) / 255 }}
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) shr 16).toFloat()
        }}
    }}

    private class Kernel(val start: IntArray, val weights: Array<DoubleArray>)

    /** Pillow's precompute_coeffs for the bilinear filter (support 1, widened when shrinking). */
    private fun kernel(inSize: Int, outSize: Int): Kernel {{
        val scale = inSize.toDouble() / outSize
        val filterScale = max(scale, 1.0)
        val support = filterScale
        val ss = 1.0 / filterScale
        val start = IntArray(outSize)
        val weights = Array(outSize) {{ xx ->
            val center = (xx + 0.5) * scale
            var xmin = (center - support + 0.5).toInt()
            if (xmin < 0) xmin = 0
            var xmax = (center + support + 0.5).toInt()
            if (xmax > inSize) xmax = inSize
            xmax -= xmin
            val k = DoubleArray(xmax)
            var total = 0.0
            for (x in 0 until xmax) {{
                val t = abs((x + xmin - center + 0.5) * ss)
                k[x] = if (t < 1.0) 1.0 - t else 0.0
                total += k[x]
            }}
            if (total != 0.0) for (x in 0 until xmax) k[x] /= total
            start[xx] = xmin
            k
        }}
        return Kernel(start, weights)
    }}

    /** Pillow's Image.resize((size, size), BILINEAR) of a mode "F" image: horizontal pass, then vertical. */
    fun resize(pixels: FloatArray, width: Int, height: Int, size: Int): FloatArray {{
        val kx = kernel(width, size)
        val ky = kernel(height, size)
        val rows = FloatArray(size * height)
        for (y in 0 until height) for (xx in 0 until size) {{
            var ss = 0.0
            val k = kx.weights[xx]
            for (x in k.indices) ss += pixels[y * width + kx.start[xx] + x].toDouble() * k[x]
            rows[y * size + xx] = ss.toFloat()
        }}
        val out = FloatArray(size * size)
        for (yy in 0 until size) for (x in 0 until size) {{
            var ss = 0.0
            val k = ky.weights[yy]
            for (y in k.indices) ss += rows[(ky.start[yy] + y) * size + x].toDouble() * k[y]
            out[yy * size + x] = ss.toFloat()
        }}
        return out
    }}

    /** Histogram equalisation to [-1, 1], each intensity mapped to its mid-rank (float32 binning like numpy). */
    fun equalise(p: FloatArray): FloatArray {{
        var low = Float.POSITIVE_INFINITY
        var high = Float.NEGATIVE_INFINITY
        for (v in p) {{ if (v < low) low = v; if (v > high) high = v }}
        if (high.toDouble() - low.toDouble() < 1e-6) return FloatArray(p.size)
        val factor = (256.0 / (high.toDouble() - low.toDouble())).toFloat()
        val bins = IntArray(p.size) {{ i -> min(((p[i] - low) * factor).toInt(), 255) }}
        val counts = LongArray(256)
        for (b in bins) counts[b]++
        val midRank = DoubleArray(256)
        var cumulative = 0L
        for (i in 0 until 256) {{ cumulative += counts[i]; midRank[i] = cumulative - counts[i] / 2.0 }}
        for (i in 0 until 256) midRank[i] /= cumulative.toDouble()
        return FloatArray(p.size) {{ i -> (midRank[bins[i]] * 2.0 - 1.0).toFloat() }}
    }}

    /** Image file bytes -> (size x size) model input in [-1, 1], row-major. */
    fun preprocess(bytes: ByteArray, size: Int): FloatArray {{
        val bitmap = decode(bytes, size)
        return equalise(resize(grayscale(bitmap), bitmap.width, bitmap.height, size))
    }}
}}

class PneumoScanModel(context: Context, assetName: String = "{model_file}") : Closeable {{
    private val interpreter: Interpreter
    val inputSize: Int
    val threshold = {threshold}f  // from the model's metadata; re-read it if you ship a new model

    init {{
        context.assets.openFd(assetName).use {{ fd ->
            FileInputStream(fd.fileDescriptor).channel.use {{ channel ->
                val model = channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                interpreter = Interpreter(model, Interpreter.Options().setNumThreads(2))
            }}
        }}
        inputSize = interpreter.getInputTensor(0).shape()[1]
    }}

    /** q = round_half_even(x / scale + zero_point), clamped to int8, in float32 arithmetic like numpy. */
    fun quantize(x: FloatArray): ByteBuffer {{
        val params = interpreter.getInputTensor(0).quantizationParams()
        val buffer = ByteBuffer.allocateDirect(x.size).order(ByteOrder.nativeOrder())
        for (v in x) {{
            val q = Math.rint((v / params.scale + params.zeroPoint).toDouble()).toInt()
            buffer.put(q.coerceIn(-128, 127).toByte())
        }}
        buffer.rewind()
        return buffer
    }}

    /** The raw int8 output for a quantized input. */
    fun rawOutput(input: ByteBuffer): Int {{
        val output = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder())
        interpreter.run(input, output)
        return output.get(0).toInt()
    }}

    /** P({positive}) for an image file (JPEG or PNG bytes). */
    fun probability(imageBytes: ByteArray): Double {{
        val raw = rawOutput(quantize(PneumoScanPreprocessing.preprocess(imageBytes, inputSize)))
        val params = interpreter.getOutputTensor(0).quantizationParams()
        return (raw - params.zeroPoint) * params.scale.toDouble()
    }}

    override fun close() = interpreter.close()
}}
"""

TEST = """\
// androidTest: copy test_vector.png into src/androidTest/assets and {model_file} into src/main/assets.
@RunWith(AndroidJUnit4::class)
class PneumoScanTestVector {{
    @Test
    fun reproducesThePythonPipeline() {{
        val instrumentation = InstrumentationRegistry.getInstrumentation()
        val bytes = instrumentation.context.assets.open("test_vector.png").use {{ it.readBytes() }}
        PneumoScanModel(instrumentation.targetContext).use {{ model ->
            val input = model.quantize(PneumoScanPreprocessing.preprocess(bytes, model.inputSize))
            val bytesIn = ByteArray(input.remaining()).also {{ input.get(it); input.rewind() }}
            val digest = MessageDigest.getInstance("SHA-256").digest(bytesIn)
            assertEquals("{input_sha256}", digest.joinToString("") {{ "%02x".format(it) }})
            assertEquals({raw_output}, model.rawOutput(input))
        }}
    }}
}}
"""


def render_android_guide(metadata: dict, vector: dict, model_file: str) -> str:
    values = {
        "preprocessing": metadata["input"]["preprocessing"],
        "preprocessing_version": metadata["input"]["preprocessing_version"],
        "model_file": model_file,
        "threshold": f"{metadata['threshold']:.6f}",
        "positive": metadata["positive_label"],
        "input_sha256": vector["input_int8_sha256"],
        "raw_output": vector["output_int8"],
    }
    quantization = metadata["input"]["quantization"]
    return "\n".join(
        [
            f"# PneumoScan on Android ({metadata['model_version']}, {metadata['variant']})",
            "",
            metadata["intended_use"],
            "",
            "## What is in this folder",
            "",
            f"- `{model_file}`: the int8 model. It carries the standard TFLite Metadata (TFLITE_METADATA, "
            "schema 1.0.0 fields, `labels.txt` packed inside) that Android Studio's ML Model Binding and the "
            "LiteRT support library read, and PneumoScan's own JSON metadata (entry `pneumoscan`: threshold, "
            "preprocessing, metrics, provenance).",
            f"- `{model_file}.sha256`: check it with `sha256sum -c {model_file}.sha256`.",
            "- `labels.txt`: the label of the one output value (`"
            + metadata["positive_label"]
            + "`). The output is P(PNEUMONIA); P(NORMAL) is 1 minus it.",
            "- `model_card.md`: intended use, data, metrics with 95% confidence intervals, limitations.",
            "- `test_vector.png` and `test_vector.json`: an input image and what the Python pipeline computes "
            "for it. Your app must reproduce both numbers exactly.",
            "",
            "## Input and output",
            "",
            f"- Input: 1x{metadata['input']['size']}x{metadata['input']['size']}x1 int8, quantized with scale "
            f"{quantization['scale']:.9g} and zero point {quantization['zero_point']} from the preprocessed image "
            "in [-1, 1].",
            f"- Output: 1x1 int8; P = (q - zero_point) x scale. Refer for review when P >= {metadata['threshold']:.4f} "
            f"(validation sensitivity >= {metadata['target_sensitivity']}).",
            "- The preprocessing is not a plain resize and normalisation: it is histogram equalisation of a "
            "bilinear (Pillow, antialiased) squash to a square. The support library's `ImageProcessor` cannot "
            "express it, so the model's input is described as a feature tensor and ML Model Binding's generated "
            "class takes a `TensorBuffer`: fill it with `PneumoScanModel.quantize(...)` below.",
            "",
            "## Setup",
            "",
            "```kotlin",
            "// app/build.gradle.kts",
            "dependencies {",
            '    implementation("com.google.ai.edge.litert:litert:1.4.1")  // Interpreter API, org.tensorflow.lite',
            '    implementation("androidx.exifinterface:exifinterface:1.3.7")',
            "}",
            'android { androidResources { noCompress += "tflite" } }  // the model is memory-mapped from assets',
            "```",
            "",
            f"Copy `{model_file}` to `app/src/main/assets/`. To use ML Model Binding instead, import it with "
            "File > New > Other > TensorFlow Lite Model (it goes to `src/main/ml/`, and Android Studio adds the "
            "support-library dependencies); its generated class takes a `TensorBuffer` of type INT8 that you fill "
            "with the quantized bytes from `PneumoScanModel.quantize`.",
            "",
            "## Running the model, with the preprocessing reproduced exactly",
            "",
            "```kotlin",
            KOTLIN.format(**values).rstrip(),
            "```",
            "",
            "## Test vector",
            "",
            f"`test_vector.png` ({vector['image_width']}x{vector['image_height']} 8-bit grayscale PNG) through "
            "the Python pipeline gives:",
            "",
            f"- int8 input tensor SHA-256: `{vector['input_int8_sha256']}` (first values {vector['input_int8_head']});",
            f"- int8 output: `{vector['output_int8']}`, P(PNEUMONIA) = {vector['probability']:.8f}.",
            "",
            "```kotlin",
            TEST.format(**values).rstrip(),
            "```",
            "",
            "## Exactness, and where it can break",
            "",
            "- PNG input: the port is exact (same integer luma, same double-precision filter weights and "
            "accumulation, same float32 binning, same round-half-even quantization); the test vector checks it.",
            "- JPEG input: Pillow (libjpeg-turbo) and Android's decoder both decode large JPEGs at 1/2, 1/4 or "
            "1/8 scale by DCT scaling, but their IDCTs may differ by one gray level in some pixels, which can move "
            "P by a quantization step or so. Compare a few of your own JPEGs against `edge-scan` if it matters.",
            "- Transparent images are composited over black with integer rounding that can differ by one level "
            "from Pillow's; 16-bit PNGs are decoded to 8 bits by Android but kept at 16 bits by Pillow. "
            "Radiograph exports are normally neither.",
            "",
        ]
    )
