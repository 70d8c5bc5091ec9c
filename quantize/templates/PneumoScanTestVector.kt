// androidTest: copy test_vector.png into src/androidTest/assets and {{model_file}} into src/main/assets.
@RunWith(AndroidJUnit4::class)
class PneumoScanTestVector {
    @Test
    fun reproducesThePythonPipeline() {
        val instrumentation = InstrumentationRegistry.getInstrumentation()
        val bytes = instrumentation.context.assets.open("test_vector.png").use { it.readBytes() }
        PneumoScanModel(instrumentation.targetContext).use { model ->
            val input = model.quantize(PneumoScanImages.preprocess(bytes, model.inputSize))
            val bytesIn = ByteArray(input.remaining()).also { input.get(it); input.rewind() }
            val digest = MessageDigest.getInstance("SHA-256").digest(bytesIn)
            assertEquals("{{input_sha256}}", digest.joinToString("") { "%02x".format(it) })
            assertEquals({{raw_output}}, model.rawOutput(input))
        }
    }
}
