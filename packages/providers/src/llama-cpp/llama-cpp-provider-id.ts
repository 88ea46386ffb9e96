/** The provider id of local llama.cpp models; model ids are `llama-cpp/<file stem>`. */
export const LLAMA_CPP_PROVIDER_ID = "llama-cpp";
