// Prompts as the official evaluation and the Python runtime (prompt.py): points and boxes in
// original-image pixels become xyxy boxes normalised by the resized image size (a point is the
// box of +-3 resized pixels around it); masks come back best predicted IoU first.
#ifndef RAPSAM_PROMPT_H
#define RAPSAM_PROMPT_H

#include <string>
#include <vector>

#include "rapsam/export.h"
#include "rapsam/postprocess.h"
#include "rapsam/types.h"

namespace rapsam {

struct PromptBoxes {
    std::vector<float> boxes;           // [points + boxes, 4], the prompt encoder's prompt_boxes
    std::vector<std::string> warnings;  // boxes reaching outside the image were clipped to it
};

// rapsam::Error for no prompts, numbers that are not finite, points outside the image, boxes
// without x2 > x1 and y2 > y1, and boxes entirely outside the image.
RAPSAM_EXPORT PromptBoxes prompt_boxes(const std::vector<Point>& points, const std::vector<Box>& boxes,
                                       const ImageMeta& meta);

// The prompt adapter's masks [P, Hf, Wf] and IoU estimates [P] -> masks at the original size,
// best IoU first (ties keep the prompts' order).
RAPSAM_EXPORT std::vector<PromptMask> prompt_masks(const float* iou, LogitsView masks, const ImageMeta& meta);

}  // namespace rapsam

#endif  // RAPSAM_PROMPT_H
