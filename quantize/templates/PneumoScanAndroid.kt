// PneumoScanAndroid.kt: the Android side. Decodes image files like Pillow (JPEG draft scale, EXIF orientation)
// for PneumoScanPreprocessing and runs the int8 model with LiteRT. Needs
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

object PneumoScanImages {
    /** Decode at Pillow's draft scale, upright by EXIF. */
    fun decode(bytes: ByteArray, size: Int): Bitmap {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        BitmapFactory.decodeByteArray(bytes, 0, bytes.size, bounds)
        require(bounds.outWidth > 0 && bounds.outHeight > 0) { "The file is not an image (JPEG or PNG expected)." }
        val options = BitmapFactory.Options().apply {
            inSampleSize = PneumoScanPreprocessing.sampleSize(
                bounds.outWidth, bounds.outHeight, size, bounds.outMimeType == "image/jpeg"
            )
            inPreferredConfig = Bitmap.Config.ARGB_8888
            inScaled = false
        }
        val bitmap = BitmapFactory.decodeByteArray(bytes, 0, bytes.size, options)
        return applyExifOrientation(bitmap, bytes)
    }

    private fun applyExifOrientation(bitmap: Bitmap, bytes: ByteArray): Bitmap {
        val orientation = ExifInterface(ByteArrayInputStream(bytes))
            .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
        val m = Matrix()
        when (orientation) {
            ExifInterface.ORIENTATION_FLIP_HORIZONTAL -> m.setScale(-1f, 1f)
            ExifInterface.ORIENTATION_ROTATE_180 -> m.setRotate(180f)
            ExifInterface.ORIENTATION_FLIP_VERTICAL -> m.setScale(1f, -1f)
            ExifInterface.ORIENTATION_TRANSPOSE -> { m.setRotate(90f); m.postScale(-1f, 1f) }
            ExifInterface.ORIENTATION_ROTATE_90 -> m.setRotate(90f)
            ExifInterface.ORIENTATION_TRANSVERSE -> { m.setRotate(-90f); m.postScale(-1f, 1f) }
            ExifInterface.ORIENTATION_ROTATE_270 -> m.setRotate(-90f)
            else -> return bitmap
        }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, false)
    }

    /** Image file bytes -> (size x size) model input in [-1, 1], row-major. */
    fun preprocess(bytes: ByteArray, size: Int): FloatArray {
        val bitmap = decode(bytes, size)
        val argb = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(argb, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        return PneumoScanPreprocessing.preprocess(argb, bitmap.width, bitmap.height, size)
    }
}

class PneumoScanModel(context: Context, assetName: String = "{{model_file}}") : Closeable {
    private val interpreter: Interpreter
    val inputSize: Int
    val threshold = {{threshold}}f  // from the model's metadata; re-read it if you ship a new model

    init {
        context.assets.openFd(assetName).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                val model = channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                interpreter = Interpreter(model, Interpreter.Options().setNumThreads(2))
            }
        }
        inputSize = interpreter.getInputTensor(0).shape()[1]
    }

    /** The model's int8 input tensor for a preprocessed image, with the model's own scale and zero point. */
    fun quantize(x: FloatArray): ByteBuffer {
        val params = interpreter.getInputTensor(0).quantizationParams()
        val buffer = ByteBuffer.allocateDirect(x.size).order(ByteOrder.nativeOrder())
        buffer.put(PneumoScanPreprocessing.quantize(x, params.scale, params.zeroPoint))
        buffer.rewind()
        return buffer
    }

    /** The raw int8 output for a quantized input. */
    fun rawOutput(input: ByteBuffer): Int {
        val output = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder())
        interpreter.run(input, output)
        return output.get(0).toInt()
    }

    /** P({{positive}}) for an image file (JPEG or PNG bytes). */
    fun probability(imageBytes: ByteArray): Double {
        val raw = rawOutput(quantize(PneumoScanImages.preprocess(imageBytes, inputSize)))
        val params = interpreter.getOutputTensor(0).quantizationParams()
        return (raw - params.zeroPoint) * params.scale.toDouble()
    }

    override fun close() = interpreter.close()
}
