"""Several people in the video: find them, choose the most prominent dancer, and make pose follow that one.

MediaPipe's pose solution (`features.pose`) tracks one person: whoever its detector ranked first when it
(re)started. In a group video that may be anyone, and it may jump from one dancer to another. So:

1. `detect`: every person on one image (MediaPipe's multi-person BlazePose detector, `PersonDetector`);
2. `track`: detections on sampled frames linked into tracks by box overlap, and the most prominent track
   chosen: tall (large on screen) and persistent (its mean height over all sampled frames, counting 0 where
   it is absent), the most central one on a near tie (`choose_person`);
3. `follow`: while pose runs, each analysed frame cropped to a margin around the chosen person's box
   (`FollowedPose`), keypoints mapped back to full-frame pixels;
4. `scan`: the whole scan over a video (`scan_people`) and its report (`PeopleScan.meta`).
"""
