// Everything of librapsam: #include <rapsam/rapsam.h> and link rapsam::rapsam.
#ifndef RAPSAM_RAPSAM_H
#define RAPSAM_RAPSAM_H

#include "rapsam/contract.h"
#include "rapsam/engine_file.h"
#include "rapsam/error.h"
#include "rapsam/manifest.h"
#include "rapsam/postprocess.h"
#include "rapsam/preprocess.h"
#include "rapsam/prompt.h"
#include "rapsam/segmenter.h"
#include "rapsam/types.h"

#endif  // RAPSAM_RAPSAM_H
